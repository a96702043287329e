import type { MetricsRegistry } from '@trellis/telemetry';

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
  };
}

export type SignalingMetrics = ReturnType<typeof signalingMetrics>;
