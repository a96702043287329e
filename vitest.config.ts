import { defineConfig } from 'vitest/config';

// One run over every workspace package, so the coverage summary covers the whole system.
export default defineConfig({
  test: {
    projects: ['packages/*', 'services/*', 'tools/*'],
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**', 'services/*/src/**', 'tools/*/src/**'],
      exclude: ['**/main.ts', '**/*.d.ts'],
      reporter: ['text-summary', 'json-summary', 'html'],
    },
  },
});
