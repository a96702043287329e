import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, serviceEnvs } from './support/configEnv';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | number | boolean | null>;
  volumes?: Array<string | { source: string }>;
  command?: string[];
}

const INFRA = join(REPO_ROOT, 'infra');
const file = readFileSync(join(INFRA, 'docker-compose.yml'), 'utf8');
// Compose resolves `<<:` merge keys (the shared x-*-env blocks); so does this parse.
const compose = parse(file, { merge: true }) as { services: Record<string, ComposeService> };

describe('infra/docker-compose.yml', () => {
  it('runs the whole stack', () => {
    const names = Object.keys(compose.services);
    for (const part of ['redis', 'postgres', 'coturn', 'persister', 'web', 'prometheus', 'grafana'])
      expect(names).toContain(part);
    expect(names.filter((n) => n.startsWith('signaling-'))).toHaveLength(2);
    expect(names.filter((n) => n.startsWith('sfu-'))).toHaveLength(2);
  });

  it('sets every variable each service reads (packages/config), secrets from the environment', () => {
    const missing: string[] = [];
    for (const [service, vars] of serviceEnvs()) {
      const instances = Object.entries(compose.services).filter(
        ([name]) => name === service || name.startsWith(`${service}-`),
      );
      expect(instances.length, `compose runs ${service}`).toBeGreaterThan(0);
      for (const [name, spec] of instances) {
        const env = spec.environment ?? {};
        for (const v of vars) {
          if (!(v.name in env)) missing.push(`${name}: ${v.name}`);
          // A secret is never written into the file: it comes from the operator's environment.
          else if (v.secret && holdsLiteralSecret(String(env[v.name])))
            missing.push(`${name}: ${v.name} is a secret written in the file`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('gives each node its own id and the SFU nodes distinct ports and pipe addresses', () => {
    const ids = Object.values(compose.services).flatMap((s) =>
      s.environment?.NODE_ID ? [s.environment.NODE_ID] : [],
    );
    expect(new Set(ids).size).toBe(ids.length);
    const sfus = Object.entries(compose.services).filter(([n]) => n.startsWith('sfu-'));
    const ports = sfus.map(([, s]) => s.environment?.SFU_RTC_PORT);
    expect(new Set(ports).size).toBe(sfus.length);
    const pipes = sfus.map(([, s]) => s.environment?.SFU_PIPE_LISTEN_IP);
    expect(new Set(pipes).size).toBe(sfus.length);
  });

  it('builds from Dockerfiles and mounts files that exist', () => {
    for (const [name, spec] of Object.entries(compose.services)) {
      if (spec.build) {
        const context = join(INFRA, spec.build.context);
        expect(existsSync(context), `${name} build context`).toBe(true);
        expect(existsSync(join(context, spec.build.dockerfile)), `${name} Dockerfile`).toBe(true);
      } else {
        expect(spec.image, `${name} has an image or a build`).toBeTruthy();
      }
      // A command run in one of our images names a file of this repository (the image's /app).
      for (const arg of spec.build ? (spec.command ?? []) : []) {
        if (/\.(ts|js)$/.test(arg))
          expect(existsSync(join(REPO_ROOT, arg)), `${name} runs ${arg}`).toBe(true);
      }
      for (const volume of spec.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.source;
        if (source.startsWith('./'))
          expect(existsSync(join(INFRA, source)), `${name} mounts ${source}`).toBe(true);
      }
    }
  });
});

/** A value that is empty, comes from the operator's environment, or is a URL without a password is safe to commit. */
function holdsLiteralSecret(value: string): boolean {
  if (value === '' || value.includes('${')) return false;
  return !(URL.canParse(value) && new URL(value).password === '');
}
