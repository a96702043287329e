import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { type CommonConfig, commonEnv, metricsPortField, toCommonConfig } from '../common.js';
import { envField, intField, parseIp, parseString, portField } from '../fields.js';
import { type RedisConnectionConfig, redisEnv, toRedisConfig } from '../redis.js';

const MAX_BITRATE = 100_000_000;

export const sfuEnv = z.object({
  ...commonEnv.shape,
  ...redisEnv.shape,
  METRICS_PORT: metricsPortField(9465),
  SFU_RTC_LISTEN_IP: envField(parseIp, {
    default: '127.0.0.1',
    description: 'IP the WebRTC servers bind (0.0.0.0 needs SFU_RTC_ANNOUNCED_ADDRESS)',
  }),
  SFU_RTC_ANNOUNCED_ADDRESS: envField(parseString(1), {
    description: 'Public IP or hostname put in ICE candidates, when it differs from the listen IP',
  }),
  // Below Linux's ephemeral range (32768-60999): an outgoing connection can never hold the port
  // a worker is about to listen on.
  SFU_RTC_PORT: portField({
    default: 20000,
    description: 'First RTC port; worker i listens UDP+TCP on SFU_RTC_PORT + i (keep below 32768)',
  }),
  SFU_PIPE_LISTEN_IP: envField(parseIp, {
    description: 'IP for pipe transports to other SFU nodes (default: SFU_RTC_LISTEN_IP)',
  }),
  SFU_PIPE_ANNOUNCED_ADDRESS: envField(parseString(1), {
    description: 'Address other SFU nodes reach this one at, when it differs from the pipe listen IP',
  }),
  // One WebRtcServer socket per worker carries every client of that worker. Measured with
  // `pnpm bench:load` on 2 cores: with the kernel's ~208 KB, a 35-person call lost 10 % (262k
  // kernel drops on the workers' sockets, then NACK/PLI storms); with 4 MiB, calls of 30, 35 and 40
  // lost 0 % with no drops. The kernel caps it at net.core.rmem_max/wmem_max (raise those too).
  SFU_RTC_SOCKET_BUFFER_BYTES: intField({
    min: 0,
    max: 268_435_456,
    default: 4_194_304,
    description:
      "Send/receive buffer of each worker's WebRTC UDP socket (0 = kernel default, ~208 KB); capped by net.core.rmem_max/wmem_max",
  }),
  // Measured (bench/cascade): at CPU saturation a 4 MiB buffer turned pipe drops into 1.5 s of
  // queueing; the kernel default keeps real-time media fresh. For bursty links, raise with care.
  SFU_PIPE_SOCKET_BUFFER_BYTES: intField({
    min: 0,
    max: 268_435_456,
    default: 0,
    description:
      'Send/receive buffer of each pipe socket, 0 = kernel default (~208 KB); capped by net.core.rmem_max/wmem_max. Larger absorbs bursts but queues media when a node is saturated',
  }),
  SFU_PIPE_PORT_MIN: portField({ default: 21000, description: 'Lowest UDP port of pipe transports' }),
  SFU_PIPE_PORT_MAX: portField({ default: 21999, description: 'Highest UDP port of pipe transports' }),
  SFU_WORKERS: intField({
    min: 1,
    max: 256,
    default: () => availableParallelism(),
    defaultLabel: 'number of CPUs',
    description: 'mediasoup workers (one per core; each is a single-threaded process)',
  }),
  SFU_MAX_CONSUMERS_PER_WORKER: intField({
    min: 1,
    max: 100_000,
    default: 500,
    description: 'Consumers a worker takes before the node reports it full',
  }),
  SFU_MAX_INCOMING_BITRATE: intField({
    min: 10_000,
    max: MAX_BITRATE,
    default: 1_500_000,
    description: 'Per-transport cap on what a client may send, bits/s',
  }),
  SFU_INITIAL_OUTGOING_BITRATE: intField({
    min: 10_000,
    max: MAX_BITRATE,
    default: 1_000_000,
    description: 'Bandwidth estimate a new transport starts from, bits/s',
  }),
  SFU_DRAIN_TIMEOUT_MS: intField({
    min: 0,
    max: 3_600_000,
    default: 30_000,
    description:
      'On SIGTERM, the longest wait for participants to move to other nodes before closing the rest',
  }),
  SFU_HEARTBEAT_INTERVAL_MS: intField({
    min: 100,
    max: 60_000,
    default: 1_000,
    description: 'How often the node refreshes its registry entry and load report',
  }),
  SFU_HEARTBEAT_TTL_MS: intField({
    min: 200,
    max: 300_000,
    default: 3_000,
    description:
      'Registry entry lifetime; a node silent this long is treated as dead (a dead process is seen sooner: NODE_LOSS_GRACE_MS)',
  }),
  SFU_STATS_INTERVAL_MS: intField({
    min: 0,
    max: 3_600_000,
    default: 5_000,
    description:
      'How often every producer, consumer and transport is sampled into call metrics for the persister (0 = off)',
  }),
});

export interface SfuConfig extends CommonConfig {
  redis: RedisConnectionConfig;
  rtc: {
    listenIp: string;
    announcedAddress?: string;
    basePort: number;
    /** ports[i] belongs to worker i (UDP and TCP). */
    ports: number[];
    socketBufferBytes?: number;
  };
  /** Node-to-node pipes (one UDP port per call and node pair, from the range). */
  pipe: {
    listenIp: string;
    announcedAddress?: string;
    portRange: { min: number; max: number };
    socketBufferBytes?: number;
  };
  workers: number;
  maxConsumersPerWorker: number;
  maxIncomingBitrate: number;
  initialOutgoingBitrate: number;
  drainTimeoutMs: number;
  heartbeat: { intervalMs: number; ttlMs: number };
  /** Metrics sampling for the persister; 0 = off. */
  statsIntervalMs: number;
}

export const sfuConfig = sfuEnv.transform((e, ctx): SfuConfig => {
  const redis = toRedisConfig(e, ctx);
  const lastPort = e.SFU_RTC_PORT + e.SFU_WORKERS - 1;
  if (lastPort > 65535) {
    ctx.addIssue({
      code: 'custom',
      path: ['SFU_RTC_PORT'],
      message: `${e.SFU_RTC_PORT} + ${e.SFU_WORKERS} workers runs past port 65535`,
    });
  }
  if (e.SFU_HEARTBEAT_TTL_MS <= e.SFU_HEARTBEAT_INTERVAL_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['SFU_HEARTBEAT_TTL_MS'],
      message: `must be greater than SFU_HEARTBEAT_INTERVAL_MS (${e.SFU_HEARTBEAT_INTERVAL_MS}), or a live node expires between beats`,
    });
  }
  // Clients cannot send to an unspecified address, so binding all interfaces needs an announced one.
  const wildcard = e.SFU_RTC_LISTEN_IP === '0.0.0.0' || e.SFU_RTC_LISTEN_IP === '::';
  if (wildcard && e.SFU_RTC_ANNOUNCED_ADDRESS === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['SFU_RTC_ANNOUNCED_ADDRESS'],
      message: `is required when SFU_RTC_LISTEN_IP is ${e.SFU_RTC_LISTEN_IP}`,
    });
  }
  const rtc: SfuConfig['rtc'] = {
    listenIp: e.SFU_RTC_LISTEN_IP,
    basePort: e.SFU_RTC_PORT,
    ports: Array.from({ length: e.SFU_WORKERS }, (_, i) => e.SFU_RTC_PORT + i),
  };
  if (e.SFU_RTC_ANNOUNCED_ADDRESS !== undefined) rtc.announcedAddress = e.SFU_RTC_ANNOUNCED_ADDRESS;
  if (e.SFU_RTC_SOCKET_BUFFER_BYTES > 0) rtc.socketBufferBytes = e.SFU_RTC_SOCKET_BUFFER_BYTES;
  if (e.SFU_PIPE_PORT_MAX < e.SFU_PIPE_PORT_MIN) {
    ctx.addIssue({
      code: 'custom',
      path: ['SFU_PIPE_PORT_MAX'],
      message: `must not be below SFU_PIPE_PORT_MIN (${e.SFU_PIPE_PORT_MIN})`,
    });
  }
  const pipe: SfuConfig['pipe'] = {
    listenIp: e.SFU_PIPE_LISTEN_IP ?? e.SFU_RTC_LISTEN_IP,
    portRange: { min: e.SFU_PIPE_PORT_MIN, max: e.SFU_PIPE_PORT_MAX },
    ...(e.SFU_PIPE_SOCKET_BUFFER_BYTES > 0 ? { socketBufferBytes: e.SFU_PIPE_SOCKET_BUFFER_BYTES } : {}),
  };
  const pipeAnnounced =
    e.SFU_PIPE_ANNOUNCED_ADDRESS ??
    (e.SFU_PIPE_LISTEN_IP === undefined ? e.SFU_RTC_ANNOUNCED_ADDRESS : undefined);
  if (pipeAnnounced !== undefined) pipe.announcedAddress = pipeAnnounced;
  return {
    ...toCommonConfig(e),
    redis,
    rtc,
    pipe,
    workers: e.SFU_WORKERS,
    maxConsumersPerWorker: e.SFU_MAX_CONSUMERS_PER_WORKER,
    maxIncomingBitrate: e.SFU_MAX_INCOMING_BITRATE,
    initialOutgoingBitrate: e.SFU_INITIAL_OUTGOING_BITRATE,
    drainTimeoutMs: e.SFU_DRAIN_TIMEOUT_MS,
    heartbeat: { intervalMs: e.SFU_HEARTBEAT_INTERVAL_MS, ttlMs: e.SFU_HEARTBEAT_TTL_MS },
    statsIntervalMs: e.SFU_STATS_INTERVAL_MS,
  };
});
