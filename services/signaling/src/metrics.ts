import { Api } from '@trellis/protocol';
import type { MetricsRegistry } from '@trellis/telemetry';
import type { CallCensus } from './call/CallCensus';

/** Signaling's own series; the bus and process series come from their packages. */
export function signalingMetrics(m: MetricsRegistry) {
  return {
    requests: m.counter(
      'signaling_requests_total',
      'Client requests by name and result code (OK or an error code)',
      ['request', 'code'],
    ),
    requestSeconds: m.histogram(
      'signaling_request_seconds',
      'Client request handling time, SFU round trips included',
      ['request'],
      { buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] },
    ),
    sockets: m.gauge('signaling_sockets', 'Socket.IO connections on this node'),
    transitions: m.counter(
      'signaling_mode_transitions_total',
      'P2P↔SFU migrations that ended, by target and result',
      ['to', 'result'],
    ),
    transitionSeconds: m.histogram(
      'signaling_mode_transition_seconds',
      'From the start of a migration to its end',
      ['to', 'result'],
      { buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32] },
    ),
    switchGapSeconds: m.histogram(
      'signaling_switch_media_gap_seconds',
      'Longest frame gap clients reported across a completed switch',
      ['to'],
      { buckets: [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5] },
    ),
    rehomed: m.counter(
      'signaling_rehomed_participants_total',
      'Participants moved to another SFU node, by reason',
      ['reason'],
    ),
    joinSeconds: m.histogram(
      'signaling_join_seconds',
      'Successful joins, request to reply (room created or read, TURN credentials, SFU capabilities)',
      ['mode', 'resumed'],
      { buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
    ),
    authFailures: m.counter(
      'signaling_auth_failures_total',
      'Tokens refused at the Socket.IO handshake or a REST request, by error code',
      ['code'],
    ),
    rateLimited: m.counter(
      'signaling_rate_limited_total',
      'Requests refused by a rate limit, by request and which budget ran out (participant or ip)',
      ['request', 'limit'],
    ),
  };
}

export type SignalingMetrics = ReturnType<typeof signalingMetrics>;

const NODE_STATES = ['serving', 'draining'] as const;

/**
 * Gauges read at scrape time: the cluster's calls and participants by mode (from Redis, so every
 * node reports the same cluster-wide numbers) and this node's state (1 for the current one).
 */
export function observeSignalingState(
  m: MetricsRegistry,
  opts: { census: CallCensus; state: () => (typeof NODE_STATES)[number]; onError: (error: unknown) => void },
): void {
  let last: Promise<Awaited<ReturnType<CallCensus['count']>> | undefined> | undefined;
  // Both gauges are collected in the same scrape: one census serves them.
  const census = () => {
    last ??= opts.census
      .count()
      .catch((error: unknown) => {
        opts.onError(error);
        return undefined;
      })
      .finally(() => setTimeout(() => (last = undefined), 1000).unref());
    return last;
  };
  const byMode = (name: string, help: string, pick: 'calls' | 'participants') =>
    m.gauge(name, help, ['mode'], {
      async collect() {
        const counted = await census();
        if (!counted) return;
        for (const mode of Api.CallMode.options) this.set({ mode }, counted[pick].get(mode) ?? 0);
      },
    });
  byMode('signaling_calls', 'Calls in the cluster by mode (cluster-wide: take max over nodes)', 'calls');
  byMode(
    'signaling_participants',
    'Participants in the cluster by their call mode (cluster-wide: take max over nodes)',
    'participants',
  );
  m.gauge('signaling_node_state', "This node's state: 1 for the current one", ['state'], {
    collect() {
      const now = opts.state();
      for (const state of NODE_STATES) this.set({ state }, state === now ? 1 : 0);
    },
  });
}
