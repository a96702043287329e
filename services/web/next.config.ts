import type { NextConfig } from 'next';

/**
 * The SDK and the protocol are workspace packages shipped as TypeScript: Turbopack compiles them
 * with the app. Type errors are the `typecheck` task's job (turbo runs it in every package), so
 * the build does not repeat it.
 */
const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  typescript: { ignoreBuildErrors: true },
  turbopack: { root: new URL('../..', import.meta.url).pathname },
};

export default config;
