import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

export interface WebMetrics {
  registry: Registry;
  tokenRequests: Counter<'outcome'>;
}

// Next.js bundles each route on its own, so a module-level registry would exist once per route:
// the one registry of the process lives on globalThis.
const KEY = Symbol.for('trellis.web.metrics');

export function webMetrics(): WebMetrics {
  const holder = globalThis as { [KEY]?: WebMetrics };
  holder[KEY] ??= create();
  return holder[KEY];
}

function create(): WebMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'web', node: process.env.NODE_ID ?? process.env.HOSTNAME ?? 'web' });
  collectDefaultMetrics({ register: registry });
  const tokenRequests = new Counter({
    name: 'trellis_web_token_requests_total',
    help: 'Token requests the web app forwarded to signaling, by outcome (ok, bad_request, upstream_error)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  return { registry, tokenRequests };
}
