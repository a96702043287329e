import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { queryPostgres, spawnProcess, tcpRequest } from '@trellis/testkit';
import getPort from 'get-port';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalCluster } from '../src/localCluster';
import type { Progress } from '../src/progress';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function recordingProgress(): Progress & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    step: (m) => lines.push(`step ${m}`),
    done: (m) => lines.push(`done ${m}`),
    fail: (m) => lines.push(`fail ${m}`),
    table: (rows) => lines.push(...rows.map(([a, b]) => `row ${a} ${b}`)),
  };
}

const noSfu = { sfuNodes: 0, sfuRtcPort: 0, sfuMetricsPort: 0 };
async function sfuPorts(sfuNodes: number) {
  return { sfuNodes, sfuRtcPort: await getPort(), sfuMetricsPort: await getPort() };
}

describe('the local cluster behind ./trellis run', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'trellis-cluster-test-'));
  // Reachable by the postgres user (as a checkout is), so PostgreSQL's data stays inside it.
  chmodSync(stateDir, 0o755);
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('starts Redis and PostgreSQL with the trellis database, keeps data between runs, stops cleanly', async () => {
    const redisPort = await getPort();
    const postgresPort = await getPort();
    const progress = recordingProgress();
    const first = await startLocalCluster({
      stateDir,
      redisPort,
      postgresPort,
      progress,
      ...(await sfuPorts(1)),
    });
    expect(first.parts.map((p) => p.name)).toEqual(['redis', 'postgres', 'sfu-1']);
    expect(first.env.DATABASE_URL).toBe(`postgresql://postgres@127.0.0.1:${postgresPort}/trellis`);
    expect(await tcpRequest('127.0.0.1', redisPort, 'SET kept yes')).toContain('+OK');
    await queryPostgres(
      first.env.DATABASE_URL!,
      'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$yes$$)',
    );
    await first.stop();
    await expect(tcpRequest('127.0.0.1', redisPort, 'PING', 300)).rejects.toThrow();

    const second = await startLocalCluster({ stateDir, redisPort, postgresPort, progress, ...noSfu });
    expect(await tcpRequest('127.0.0.1', redisPort, 'GET kept')).toContain('yes');
    expect(await queryPostgres(second.env.DATABASE_URL!, 'SELECT v FROM kept')).toEqual([{ v: 'yes' }]);
    await second.stop();
    expect(progress.lines.filter((l) => l.startsWith('fail'))).toEqual([]);
  }, 60_000);

  it('stops what it started when a later part fails to start', async () => {
    const redisPort = await getPort();
    const progress = recordingProgress();
    // PostgreSQL on the port Redis just took cannot start.
    await expect(
      startLocalCluster({
        stateDir: join(stateDir, 'clash'),
        redisPort,
        postgresPort: redisPort,
        progress,
        ...noSfu,
      }),
    ).rejects.toThrow();
    expect(progress.lines).toContain('done redis stopped');
    await expect(tcpRequest('127.0.0.1', redisPort, 'PING', 300)).rejects.toThrow();
  }, 60_000);

  it('runs in the foreground, prints where each part listens, and stops everything on Ctrl-C', async () => {
    const redisPort = await getPort();
    const postgresPort = await getPort();
    const { sfuRtcPort, sfuMetricsPort } = await sfuPorts(2);
    const signalingPort = await getPort();
    const cli = spawnProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        main,
        '--state-dir',
        join(stateDir, 'cli'),
        '--redis-port',
        String(redisPort),
        '--postgres-port',
        String(postgresPort),
        '--sfu-nodes',
        '2',
        '--sfu-rtc-port',
        String(sfuRtcPort),
        '--sfu-metrics-port',
        String(sfuMetricsPort),
        '--signaling-nodes',
        '1',
        '--signaling-port',
        String(signalingPort),
        '--signaling-metrics-port',
        String(await getPort()),
        '--persister-metrics-port',
        String(await getPort()),
        '--quiet',
      ],
      { name: 'trellis-run' },
    );
    await cli.waitForOutput(/Ctrl-C stops everything/, 60_000);
    expect(cli.output).toContain(`redis://127.0.0.1:${redisPort}`);
    expect(cli.output).toContain(`postgresql://postgres@127.0.0.1:${postgresPort}/trellis`);
    expect(cli.output).toContain(`sfu-2`);
    // The SFU nodes really serve: their metrics endpoints answer.
    const scrape = await fetch(`http://127.0.0.1:${sfuMetricsPort + 1}/metrics`);
    expect(await scrape.text()).toContain('trellis_sfu_rooms');
    // Signaling serves its API and a development token on the printed port.
    const minted = await fetch(`http://127.0.0.1:${signalingPort}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ roomId: 'local', identity: 'me' }),
    });
    expect(minted.status).toBe(200);
    const openapi = (await (await fetch(`http://127.0.0.1:${signalingPort}/openapi.json`)).json()) as {
      paths: object;
    };
    expect(Object.keys(openapi.paths)).toContain('/v1/rooms/{roomId}/participants');
    // The migrations were applied and the persister runs against them.
    expect(cli.output).toMatch(/persister +call history into/);
    const tables = await queryPostgres<{ t: string }>(
      `postgresql://postgres@127.0.0.1:${postgresPort}/trellis`,
      `SELECT to_regclass('public.call_session')::text AS t`,
    );
    expect(tables).toEqual([{ t: 'call_session' }]);
    await cli.stop('SIGINT');
    expect((await cli.exited).code).toBe(0);
    expect(cli.output).toContain('persister stopped');
    expect(cli.output).toContain('postgres stopped');
    expect(cli.output).toContain('sfu-1 stopped');
    expect(cli.output).toContain('signaling-1 stopped');
    await expect(fetch(`http://127.0.0.1:${sfuMetricsPort}/metrics`)).rejects.toThrow();
    await expect(tcpRequest('127.0.0.1', redisPort, 'PING', 300)).rejects.toThrow();
    await expect(
      queryPostgres(`postgresql://postgres@127.0.0.1:${postgresPort}/trellis`, 'SELECT 1'),
    ).rejects.toThrow();
  }, 90_000);
});
