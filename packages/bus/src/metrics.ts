import type { MetricsRegistry } from '@trellis/telemetry';
import type { Counter, Gauge, Histogram } from 'prom-client';

/** The bus's Prometheus metrics (prefixed trellis_bus_ by the registry's prefix). */
export interface BusMetrics {
  requests: Counter<'type' | 'outcome'>;
  requestSeconds: Histogram<'type'>;
  commandsHandled: Counter<'type' | 'outcome'>;
  commandSeconds: Histogram<'type'>;
  reclaimed: Counter<'stream_kind'>;
  deadLetters: Counter<'origin_kind' | 'reason'>;
  eventsAppended: Counter<'type'>;
  eventsConsumed: Counter<'type' | 'outcome'>;
  broadcasts: Counter<'type' | 'direction'>;
  pendingRequests: Gauge;
}

const seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Idempotent per registry (the registry's helpers return existing metrics), so bus parts share them. */
export function busMetrics(m: MetricsRegistry): BusMetrics {
  return {
    requests: m.counter(
      'bus_requests_total',
      'Bus requests sent, by command type and outcome (ok, error code, timeout)',
      ['type', 'outcome'],
    ),
    requestSeconds: m.histogram(
      'bus_request_duration_seconds',
      'Round trip of bus requests as the caller sees it',
      ['type'],
      { buckets: seconds },
    ),
    commandsHandled: m.counter(
      'bus_commands_handled_total',
      'Commands taken off a command stream, by type and outcome (ok, error code, expired, duplicate)',
      ['type', 'outcome'],
    ),
    commandSeconds: m.histogram('bus_command_duration_seconds', 'Time a command handler ran', ['type'], {
      buckets: seconds,
    }),
    reclaimed: m.counter(
      'bus_reclaimed_total',
      'Stream entries taken over from a consumer that died or stalled (XAUTOCLAIM)',
      ['stream_kind'],
    ),
    deadLetters: m.counter(
      'bus_dead_letters_total',
      'Messages that failed validation, moved to the dead-letter stream',
      ['origin_kind', 'reason'],
    ),
    eventsAppended: m.counter('bus_events_appended_total', 'Events appended to subject (room) streams', [
      'type',
    ]),
    eventsConsumed: m.counter(
      'bus_events_consumed_total',
      'Events handled from subject streams, by outcome',
      ['type', 'outcome'],
    ),
    broadcasts: m.counter('bus_broadcasts_total', 'Pub/sub fan-out messages, sent and received', [
      'type',
      'direction',
    ]),
    pendingRequests: m.gauge('bus_pending_requests', 'Requests awaiting a reply'),
  };
}
