import { randomUUID } from 'node:crypto';
import { RedisBus } from '@trellis/bus';
import type { CommandDef, ErrorCode, NodeInfo, ReplyOf, RequestOf } from '@trellis/protocol';
import { createLogger, createMetricsRegistry } from '@trellis/telemetry';
import { type RedisServer, StopWaiting, startRedis, waitFor } from '@trellis/testkit';
import { RoomEventLog } from './RoomEventLog';
import { errorCodeOf, requestRaw } from './rawCommand';
import { SfuTestPeer } from './SfuTestPeer';
import { type SpawnedSfu, spawnSfu } from './spawnSfu';

/** Bounded waits for media: far above what a healthy run needs on a loaded 2-core box. */
export const MEDIA_TIMEOUT_MS = 20_000;

/** A unique id for rooms and peers, so runs sharing one Redis (REDIS_URL) never meet. */
export function uid(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface SfuHarness {
  readonly redis: RedisServer;
  readonly sfu: SpawnedSfu;
  readonly nodeId: string;
  /** The test's own bus client: it plays signaling, sending commands and reading room events. */
  readonly bus: RedisBus;
  readonly events: RoomEventLog;
  join(roomId: string, peerId?: string): Promise<SfuTestPeer>;
  request<C extends CommandDef>(def: C, payload: RequestOf<C>, timeoutMs?: number): Promise<ReplyOf<C>>;
  /** The error code the node answers a command with (or a 'resolved: …' marker if it succeeds). */
  failureCode<C extends CommandDef>(def: C, payload: RequestOf<C>): Promise<ErrorCode | string>;
  /** The node's registry entry, once it has one that passes `accept`. */
  registryEntry(accept?: (info: NodeInfo) => boolean, what?: string): Promise<NodeInfo>;
  /** waitFor that fails at once (with the node's last output) if the sfu process exits. */
  waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs?: number): Promise<NonNullable<T>>;
  close(): Promise<void>;
}

/**
 * Real Redis, a real sfu process, and a bus client with a room-event log. Teardown runs in reverse
 * order of set-up and survives a set-up that failed halfway (afterAll still calls close()).
 */
export async function startSfuHarness(
  name: string,
  opts: { workers?: number; env?: Record<string, string> } = {},
): Promise<SfuHarness> {
  const cleanups: Array<() => unknown> = [];
  const peers = new Set<SfuTestPeer>();
  const close = async () => {
    for (const peer of peers) peer.close();
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Keep going: one failed close must not leak the sfu process or Redis.
      }
    }
    cleanups.length = 0;
  };
  try {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const nodeId = uid(`sfu-test-${name}`);
    const sfu = await spawnSfu({
      redisUrl: redis.url,
      nodeId,
      workers: opts.workers ?? 1,
      // Nothing moves calls away in a test: a drain would only delay the stop.
      env: { SFU_DRAIN_TIMEOUT_MS: '0', ...opts.env },
    });
    cleanups.push(() => sfu.process.stop('SIGTERM', 5_000));
    const clientId = uid(`test-client-${name}`);
    const bus = await RedisBus.connect({
      nodeId: clientId,
      redis: { mode: 'single', url: redis.url, keyPrefix: 'trellis:' },
      logger: createLogger({ service: 'sfu-test', nodeId: clientId, level: 'warn' }),
      metrics: createMetricsRegistry({ service: 'sfu-test', nodeId: clientId }),
    });
    cleanups.push(() => bus.close());
    const events = await RoomEventLog.start(bus, uid(`sfu-test-${name}`));
    cleanups.push(() => events.close());

    const outputTail = () =>
      `\n--- ${sfu.process.name} output (tail) ---\n${sfu.process.output.slice(-3000)}`;
    const waitForAlive = <T>(probe: () => T | Promise<T>, what: string, timeoutMs = MEDIA_TIMEOUT_MS) =>
      waitFor(
        () => {
          if (!sfu.process.running) throw new StopWaiting(`the sfu process exited while waiting for ${what}`);
          return probe();
        },
        { timeoutMs, what },
      ).catch((error: Error) => {
        throw new Error(`${error.message}${outputTail()}`);
      });

    return {
      redis,
      sfu,
      nodeId,
      bus,
      events,
      async join(roomId, peerId = uid('peer')) {
        const peer = await SfuTestPeer.join({ bus, nodeId, roomId, peerId });
        peers.add(peer);
        return peer;
      },
      request: (def, payload, timeoutMs = 10_000) =>
        bus.commands.request(nodeId, def, payload, { timeoutMs }),
      // By the raw path: see requestRaw for the bus client's race on fast error replies.
      failureCode: (def, payload) => errorCodeOf(requestRaw(bus, nodeId, def, payload)),
      registryEntry: (accept = () => true, what = 'a matching registry entry') =>
        waitForAlive(async () => {
          const info = await bus.registry.get(nodeId);
          return info && accept(info) ? info : undefined;
        }, `${nodeId}: ${what}`),
      waitFor: waitForAlive,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
