import { Writable } from 'node:stream';
import type { RedisConnectionConfig } from '@trellis/config';
import { defineCommand, defineEvent } from '@trellis/protocol';
import { createLogger, createMetricsRegistry } from '@trellis/telemetry';
import { z } from 'zod';
import { RedisBus } from '../src/RedisBus';

/** Commands and events of the tests' own, defined the same way services define theirs in protocol. */
export const Echo = defineCommand({
  type: 'test.echo',
  request: z.object({ text: z.string().max(100), n: z.number().int().optional() }),
  reply: z.object({ text: z.string(), n: z.number().int().optional(), by: z.string() }),
});

export const Fail = defineCommand({
  type: 'test.fail',
  request: z.object({ kind: z.enum(['typed', 'plain', 'bad-reply']) }),
  reply: z.object({ never: z.literal(true) }),
});

export const Work = defineCommand({
  type: 'test.work',
  request: z.object({ job: z.string() }),
  reply: z.object({ job: z.string(), doneBy: z.string(), redelivered: z.boolean() }),
});

export const RoomNote = defineEvent({
  type: 'test.room-note',
  payload: z.object({ seq: z.number().int(), text: z.string() }),
});

/** A logger that keeps lines in memory, so tests can assert on dead-letter log lines. */
export function memoryLogger(service: string, nodeId: string) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ service, nodeId, level: 'info', destination }), lines };
}

export async function connectBus(
  redis: string | RedisConnectionConfig,
  nodeId: string,
  extra: { claimIdleMs?: number; claimIntervalMs?: number; requestTimeoutMs?: number } = {},
) {
  const { logger, lines } = memoryLogger('bus-test', nodeId);
  const metrics = createMetricsRegistry({ service: 'bus-test', nodeId });
  const bus = await RedisBus.connect({
    nodeId,
    redis: typeof redis === 'string' ? { mode: 'single', url: redis, keyPrefix: 'trellis:' } : redis,
    logger,
    metrics,
    ...extra,
  });
  return { bus, metrics, logLines: lines };
}

export async function metricValue(
  metrics: ReturnType<typeof createMetricsRegistry>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await metrics.registry.getSingleMetricAsString(name).catch(() => '');
  let total = 0;
  for (const line of metric.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      total += Number(line.split(' ').pop());
  }
  return total;
}
