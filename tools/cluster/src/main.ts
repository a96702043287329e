// `./trellis run`: the local cluster in the foreground until Ctrl-C.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalCluster } from './localCluster';
import { terminalProgress } from './progress';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string', default: resolve(import.meta.dirname, '../../../.trellis/cluster') },
    'redis-port': { type: 'string', default: process.env.TRELLIS_REDIS_PORT ?? '6380' },
    'postgres-port': { type: 'string', default: process.env.TRELLIS_POSTGRES_PORT ?? '5433' },
    'sfu-nodes': { type: 'string', default: '2' },
    'sfu-rtc-port': { type: 'string', default: '20000' },
    'sfu-metrics-port': { type: 'string', default: '9465' },
    'signaling-nodes': { type: 'string', default: '2' },
    'signaling-port': { type: 'string', default: '3000' },
    'signaling-metrics-port': { type: 'string', default: '9475' },
    'persister-metrics-port': { type: 'string', default: '9485' },
    /** The web app; 0 leaves it out. */
    'web-port': { type: 'string', default: process.env.TRELLIS_WEB_PORT ?? '3100' },
    quiet: { type: 'boolean', default: false },
  },
});

const progress = terminalProgress();
const cluster = await startLocalCluster({
  stateDir: values['state-dir'],
  redisPort: Number(values['redis-port']),
  postgresPort: Number(values['postgres-port']),
  sfuNodes: Number(values['sfu-nodes']),
  sfuRtcPort: Number(values['sfu-rtc-port']),
  sfuMetricsPort: Number(values['sfu-metrics-port']),
  signalingNodes: Number(values['signaling-nodes']),
  signalingPort: Number(values['signaling-port']),
  signalingMetricsPort: Number(values['signaling-metrics-port']),
  persisterMetricsPort: Number(values['persister-metrics-port']),
  webPort: Number(values['web-port']),
  echoLogs: !values.quiet,
  progress,
}).catch(() => process.exit(1));

progress.step('Trellis local cluster is up:');
progress.table(cluster.parts.map((part) => [part.name, part.endpoint]));
progress.step('Ctrl-C stops everything.');

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\n');
  progress.step(`${signal}: shutting down`);
  await cluster.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
