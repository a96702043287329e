import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Works as a node:http listener and as an Express route handler (Express extends these types). */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    registry.metrics().then(
      (body) => {
        res.statusCode = 200;
        res.setHeader('Content-Type', registry.contentType);
        res.end(body);
      },
      (err: unknown) => {
        // A failing collect callback must not take the scrape endpoint down with it.
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  };
}

export interface MetricsServerOptions {
  registry: Registry;
  port: number;
  /** Defaults to all interfaces: Prometheus scrapes pods from elsewhere. */
  host?: string;
  /** /healthz answers 503 when this returns false or throws (e.g. an SFU that is draining). */
  healthCheck?: () => boolean | Promise<boolean>;
}

export interface MetricsServer {
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const serveMetrics = metricsHandler(opts.registry);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      serveMetrics(req, res);
    } else if (path === '/healthz') {
      void health(opts.healthCheck).then((healthy) => {
        res.writeHead(healthy ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(healthy ? 'ok\n' : 'unhealthy\n');
      });
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Prometheus keeps scrape connections alive; without this close() waits for them to idle out.
        server.closeAllConnections();
      }),
  };
}

async function health(check: MetricsServerOptions['healthCheck']): Promise<boolean> {
  if (!check) return true;
  try {
    return await check();
  } catch {
    return false;
  }
}
