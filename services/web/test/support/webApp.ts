import { createServer } from 'node:net';
import { type ManagedProcess, spawnProcess, waitFor } from '@trellis/testkit';
import { nextBin, webDir } from '../../scripts/buildOnce';

export { buildWebApp, webDir } from '../../scripts/buildOnce';

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface WebApp {
  readonly url: string;
  readonly process: ManagedProcess;
  close(): Promise<void>;
}

/** `next start` on `port`, pointed at the given signaling nodes. */
export async function startWebApp(port: number, signalingUrls: string[]): Promise<WebApp> {
  const proc = spawnProcess(nextBin, ['start', '-p', String(port), '-H', '127.0.0.1'], {
    name: 'next start',
    cwd: webDir,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      TRELLIS_SIGNALING_URLS: signalingUrls.join(','),
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(url).catch(() => undefined))?.ok, {
    timeoutMs: 30_000,
    intervalMs: 100,
    what: 'the web app to serve',
  }).catch((error: Error) => {
    throw new Error(`${error.message}\n${proc.output.slice(-2000)}`);
  });
  return { url, process: proc, close: () => proc.stop('SIGTERM', 5_000) };
}
