import { type ManagedProcess, spawnProcess } from '../process';
import { StopWaiting, waitFor } from '../waitFor';
import { tcpRequest } from './tcp';

export const REDIS_HOST = '127.0.0.1';

/** Settings every test/local redis-server shares: loopback only, no RDB snapshots, quiet. */
const BASE = { bind: REDIS_HOST, save: '', 'protected-mode': 'no', daemonize: 'no', loglevel: 'warning' };

/**
 * Starts redis-server with `settings` (as `--name value` pairs, over the shared base unless `bare`)
 * after `leadingArgs` (a config file, `--sentinel`), and resolves once it answers PING.
 */
export async function spawnRedis(
  binary: string,
  settings: Record<string, string | number> & { port: number },
  opts: { leadingArgs?: string[]; bare?: boolean } = {},
): Promise<ManagedProcess> {
  const { port } = settings;
  const all = opts.bare ? settings : { ...BASE, ...settings };
  const args = [
    ...(opts.leadingArgs ?? []),
    ...Object.entries(all).flatMap(([name, value]) => [`--${name}`, String(value)]),
  ];
  const proc = spawnProcess(binary, args, { name: `redis-server:${port}` });
  await waitFor(
    async () => {
      if (!proc.running) throw new StopWaiting(`redis-server on ${port} exited:\n${proc.output}`);
      return (await tcpRequest(REDIS_HOST, port, 'PING')).startsWith('+PONG');
    },
    { timeoutMs: 10_000, what: `redis-server on ${port}` },
  );
  return proc;
}
