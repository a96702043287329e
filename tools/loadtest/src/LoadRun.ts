import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Api } from '@trellis/protocol';
import { decodeJwt, SignJWT } from 'jose';
import { LoadOptions, type LoadOptionsInput, subscribePolicy } from './LoadOptions';
import type { ParticipantResult, ParticipantSpec } from './LoadParticipantTypes';
import { loadMediaClip } from './media/MediaClip';
import { buildReport, type LoadReport } from './report';
import { FromWorker, type Progress, type ToWorker, type WorkerHealth } from './workerMessages';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const WORKER_READY_MS = 30_000;
/** Workers start joining this long after they were told to: all of them are listening by then. */
const START_DELAY_MS = 1_000;

export interface LoadRunHooks {
  /** Human lines (set-up, the final summary's caller decides where). */
  log?: (line: string) => void;
  /** The one-line progress, once a second. */
  progress?: (line: string) => void;
  /** Aborts the run early (Ctrl-C): participants leave and the report covers what ran. */
  signal?: AbortSignal;
  /**
   * Called with the final results while every participant is still joined but no longer publishing
   * (counts are frozen on both sides): a test reads the SFU's own stats here to compare.
   */
  beforeLeave?: (results: ParticipantResult[]) => Promise<void>;
}

/**
 * The coordinator of `trellis load`: plans the participants, forks worker processes (one per core by
 * default in the CLI) that each run a share, shows progress, and builds the report from their
 * results. Bounded: joins stop at the duration, workers are told to leave at its end and killed
 * `graceSeconds` later if they have not reported.
 */
export async function runLoad(input: LoadOptionsInput, hooks: LoadRunHooks = {}): Promise<LoadReport> {
  const o = LoadOptions.parse(input);
  const log = hooks.log ?? (() => undefined);
  loadMediaClip(log);
  const specs = await planParticipants(o);
  const workerCount = Math.min(o.workers, specs.length);
  const t0 = Date.now() + START_DELAY_MS;
  const endAt = t0 + o.durationSeconds * 1000;
  const shares: Array<ToWorker & { type: 'start' }> = Array.from({ length: workerCount }, () => ({
    type: 'start',
    joins: [],
    endAt,
  }));
  specs.forEach((spec, i) => {
    const at = t0 + (i / o.joinRate) * 1000;
    if (at < endAt) shares[i % workerCount]?.joins.push({ at, spec });
  });
  const attempted = shares.reduce((n, s) => n + s.joins.length, 0);
  log(
    `${attempted} participants in ${o.calls} call(s) over ${workerCount} worker process(es), target ${o.url}`,
  );

  const workers = await Promise.all(shares.map(() => startWorker()));
  const progress = new Map<ChildProcess, Progress>();
  const results: ParticipantResult[] = [];
  const health: WorkerHealth[] = [];
  const reportedResults = workers.map((w) => workerPhase(w, (m) => m.type === 'results'));
  const exited = workers.map((w) => workerPhase(w, () => false));
  for (const w of workers) {
    w.on('message', (raw: unknown) => {
      const m = FromWorker.safeParse(raw);
      if (!m.success) return;
      if (m.data.type === 'progress') progress.set(w, m.data.progress);
      if (m.data.type === 'results') {
        results.push(...m.data.results);
        health.push(m.data.health);
      }
      if (m.data.type === 'fatal') log(`worker ${w.pid}: ${m.data.message}`);
    });
  }
  const tell = (message: ToWorker) => {
    for (const w of workers) if (w.connected) w.send(message);
  };
  const quiesceAll = () => tell({ type: 'quiesce' });
  hooks.signal?.addEventListener('abort', quiesceAll, { once: true });
  workers.forEach((w, i) => {
    w.send(shares[i] as ToWorker);
  });

  const startedAt = Date.now();
  let lastBytes = 0;
  const ticker = setInterval(() => {
    const total = sumProgress([...progress.values()]);
    const kbps = Math.round(((total.bytes - lastBytes) * 8) / 1000);
    lastBytes = total.bytes;
    const loss = total.expected > 0 ? ((total.lost / total.expected) * 100).toFixed(2) : '0.00';
    const elapsed = Math.max(0, (Date.now() - t0) / 1000).toFixed(0);
    hooks.progress?.(
      `[${elapsed.padStart(4)}/${o.durationSeconds} s] joined ${total.joined}/${attempted} failed ${total.failed} | rx ${kbps} kbps, loss ${loss} %, freezes ${total.freezes}`,
    );
  }, 1_000);
  // Bounded: whatever has not reported or exited by the grace deadline is killed.
  const killAt = endAt + o.graceSeconds * 1000;
  const killer = setTimeout(
    () => {
      for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    },
    Math.max(0, killAt - Date.now()),
  );
  await Promise.all(reportedResults);
  clearInterval(ticker);
  const elapsedSeconds = (Date.now() - startedAt) / 1000;
  hooks.signal?.removeEventListener('abort', quiesceAll);
  if (hooks.beforeLeave) {
    await hooks
      .beforeLeave(results)
      .catch((error: unknown) => log(`beforeLeave hook failed: ${String(error)}`));
  }
  tell({ type: 'leave' });
  await Promise.all(exited);
  clearTimeout(killer);

  // A worker that died or was killed took its participants' results with it: count them failed.
  const reported = new Set(results.map((r) => r.identity));
  for (const share of shares) {
    for (const { spec } of share.joins) {
      if (!reported.has(spec.identity)) results.push(lostResult(spec));
    }
  }
  const report = buildReport(o, results, attempted, elapsedSeconds, health);
  return { ...report, participants: results };
}

/** One spec per participant: tokens minted with the secret, or the given tokens grouped by room. */
export async function planParticipants(o: LoadOptions): Promise<ParticipantSpec[]> {
  const common = {
    url: o.url,
    publishVideo: o.publishVideo,
    publishAudio: o.publishAudio,
    subscribe: subscribePolicy(o.subscribe),
    videoLayer: o.videoLayer,
  };
  if (o.tokens) {
    const rooms = new Map<string, number>();
    const perRoom = new Map<string, number>();
    const specs = o.tokens.map((token) => {
      const claims = Api.TokenClaims.parse(decodeJwt(token));
      if (!rooms.has(claims.trellis.room)) rooms.set(claims.trellis.room, rooms.size);
      const index = perRoom.get(claims.trellis.room) ?? 0;
      perRoom.set(claims.trellis.room, index + 1);
      return {
        speaking: index < o.speakers,
        ...common,
        token,
        roomId: claims.trellis.room,
        identity: claims.sub,
        callIndex: rooms.get(claims.trellis.room) as number,
      };
    });
    for (const room of rooms.keys()) {
      const n = specs.filter((s) => s.roomId === room).length;
      if (n < 3) throw new Error(`room ${room} has ${n} token(s): a load call needs 3 or more (see README)`);
    }
    return specs;
  }
  const secret = new TextEncoder().encode(o.secret);
  const ttl = Math.ceil(o.durationSeconds + o.graceSeconds + 600);
  const specs: ParticipantSpec[] = [];
  for (let c = 0; c < o.calls; c++) {
    const roomId = `${o.roomPrefix}-c${c}`;
    for (let p = 0; p < o.participants; p++) {
      const identity = `${roomId}-p${p}`;
      const claims = Api.TokenClaims.parse({ sub: identity, trellis: { room: roomId } });
      const token = await new SignJWT({ trellis: claims.trellis })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(identity)
        .setIssuer(o.issuer)
        .setAudience(o.audience)
        .setIssuedAt()
        .setExpirationTime(`${ttl}s`)
        .sign(secret);
      specs.push({ ...common, token, roomId, identity, callIndex: c, speaking: p < o.speakers });
    }
  }
  return specs;
}

/** Workers run the TypeScript sources under tsx, as the coordinator does (`./trellis load`, tests). */
function workerExecArgv(): string[] {
  if (process.execArgv.some((arg) => arg.includes('tsx'))) return process.execArgv;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [...process.execArgv, '--import', tsx];
}

function startWorker(): Promise<ChildProcess> {
  const child = fork(WORKER, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: workerExecArgv(),
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker ${child.pid} not ready within ${WORKER_READY_MS} ms`));
    }, WORKER_READY_MS);
    child.on('message', (raw: unknown) => {
      const m = FromWorker.safeParse(raw);
      if (m.success && m.data.type === 'ready') {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before it was ready`));
    });
  });
}

/** Resolves when the worker sends a matching message, or exits (whatever it managed to say). */
function workerPhase(w: ChildProcess, match: (m: FromWorker) => boolean): Promise<void> {
  return new Promise((resolve) => {
    w.on('message', (raw: unknown) => {
      const m = FromWorker.safeParse(raw);
      if (m.success && match(m.data)) resolve();
    });
    if (w.exitCode !== null) resolve();
    w.once('exit', () => resolve());
  });
}

function sumProgress(list: Progress[]): Progress {
  const total: Progress = { joined: 0, failed: 0, packets: 0, bytes: 0, expected: 0, lost: 0, freezes: 0 };
  for (const p of list) for (const k of Object.keys(total) as Array<keyof Progress>) total[k] += p[k];
  return total;
}

function lostResult(spec: ParticipantSpec): ParticipantResult {
  return {
    identity: spec.identity,
    roomId: spec.roomId,
    callIndex: spec.callIndex,
    participantId: undefined,
    nodeId: undefined,
    joined: false,
    joinMs: undefined,
    firstFrameMs: undefined,
    producerIds: [],
    modes: [],
    transitions: 0,
    pathReadyReported: 0,
    rehomes: 0,
    resumes: 0,
    errors: { WORKER_LOST: 1 },
    errorLog: [],
    video: [],
    rateLimitedRetries: 0,
    unavailableRetries: 0,
    firstError: { code: 'WORKER_LOST', message: 'its worker process exited without reporting' },
    errorMessages: { WORKER_LOST: 'its worker process exited without reporting' },
    sent: { videoPackets: 0, audioPackets: 0, bytes: 0, plis: 0, nacked: 0 },
    subscriptions: [],
    unmatchedPackets: 0,
    sfuSeconds: 0,
  };
}
