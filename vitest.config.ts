import { execFileSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

// mediasoup reads MEDIASOUP_WORKER_BIN when it is imported; the set-up script keeps the worker
// outside node_modules (cached by version and patch) and prints its path, instantly once built.
process.env.MEDIASOUP_WORKER_BIN ??= execFileSync('scripts/mediasoup-worker.sh', {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();

// One run over every workspace package, so the coverage summary covers the whole system.
export default defineConfig({
  test: {
    projects: ['packages/*', 'services/*', 'tools/*', 'infra'],
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**', 'services/*/src/**', 'tools/*/src/**'],
      // The web app's code runs in Chromium, where v8 coverage in Node can't see it.
      exclude: ['**/main.ts', '**/*.d.ts', 'packages/db/src/generated/**', 'services/web/**'],
      reporter: ['text-summary', 'json-summary', 'html'],
      // The seed asks for more than 80 %; the run fails if the workspace drops below.
      thresholds: { statements: 80, lines: 80, functions: 80, branches: 70 },
    },
  },
});
