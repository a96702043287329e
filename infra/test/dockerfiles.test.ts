import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/configEnv';

const DIR = join(REPO_ROOT, 'infra/docker');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with `\\` continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfiles = readdirSync(DIR).filter((f) => f.endsWith('.Dockerfile'));

describe('infra/docker/*.Dockerfile', () => {
  it('has an image for every service', () => {
    const services = readdirSync(join(REPO_ROOT, 'services'));
    for (const service of services) expect(dockerfiles).toContain(`${service}.Dockerfile`);
  });

  for (const file of dockerfiles) {
    describe(file, () => {
      const steps = instructions(readFileSync(join(DIR, file), 'utf8'));
      const stages = steps.filter((s) => s.op === 'FROM').map((s) => /\bAS\s+(\S+)/i.exec(s.args)?.[1]);

      it('is multi-stage, running as an unprivileged user', () => {
        expect(stages.length).toBeGreaterThanOrEqual(2);
        expect(steps.filter((s) => s.op === 'USER').at(-1)?.args).toBe('node');
      });

      it('copies only what exists: from the build context, or from a stage that holds it', () => {
        for (const step of steps.filter((s) => s.op === 'COPY')) {
          const words = step.args.split(/\s+/);
          const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
          const paths = words.filter((w) => !w.startsWith('--'));
          const sources = paths.slice(0, -1);
          for (const source of sources) {
            if (from === undefined) {
              expect(existsSync(join(REPO_ROOT, source)), `${file}: COPY ${source}`).toBe(true);
            } else {
              expect(stages, `${file}: stage ${from}`).toContain(from);
              // The build stages copy the repository to /app; the worker stage installs to /opt.
              if (source.startsWith('/app/') && !source.startsWith('/app/node_modules'))
                expect(existsSync(join(REPO_ROOT, source.slice('/app/'.length))), `${file}: ${source}`).toBe(
                  true,
                );
            }
          }
        }
      });

      it('starts an entry file that exists', () => {
        const cmd = JSON.parse(steps.filter((s) => s.op === 'CMD').at(-1)!.args) as string[];
        const workdir = steps.filter((s) => s.op === 'WORKDIR').at(-1)!.args;
        const entry = cmd.find((a) => /\.(ts|js)$/.test(a) || a.includes('/bin/'));
        expect(entry, `${file}: CMD names a file`).toBeDefined();
        const inRepo = join(REPO_ROOT, workdir.replace(/^\/app\/?/, ''), entry!);
        expect(existsSync(inRepo), `${file}: ${inRepo}`).toBe(true);
      });
    });
  }

  it('builds the SFU worker with the set-up script and ships its runtime libraries', () => {
    const sfu = readFileSync(join(DIR, 'sfu.Dockerfile'), 'utf8');
    expect(sfu).toContain('scripts/mediasoup-worker.sh');
    for (const lib of ['libuv1', 'libssl3', 'libsrtp2-1', 'libabsl20220623']) expect(sfu).toContain(lib);
    expect(sfu).toMatch(/MEDIASOUP_WORKER_BIN=\/opt\/mediasoup\/mediasoup-worker/);
  });
});
