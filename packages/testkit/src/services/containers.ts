import { existsSync } from 'node:fs';

/**
 * Whether testcontainers can be used. Without a Docker engine it throws "Could not find a working
 * container runtime strategy", so only try when a socket or DOCKER_HOST suggests an engine, and
 * load the library lazily because importing it costs time every test file would pay.
 */
let probe: Promise<boolean> | undefined;

export function dockerEngineAvailable(): Promise<boolean> {
  probe ??= (async () => {
    if (process.env.TRELLIS_TESTCONTAINERS === '0') return false;
    if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await getContainerRuntimeClient();
      return true;
    } catch {
      return false;
    }
  })();
  return probe;
}
