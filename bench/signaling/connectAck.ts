// A measured phase of "many clients each open a connection and make one request": the joins against
// signaling, and the same against the bare Socket.IO server. A phase runs in rounds, interleaved by
// the caller with the other phases' rounds, so that load from elsewhere on the machine lands on all
// of them alike. Within a round every client stays connected until the round is over (participants
// stay in their calls), then all leave and disconnect.
import { machineCpuMeter, processCpuUsPrecise, round, selfCpuMeter, sleep } from '../sfu-forwarding/util';
import { Failures, lanes, type Summary, summarize } from './stats';
import { ask, connect, failureKind, type Socket } from './wire';

export interface Client {
  auth: Record<string, unknown>;
  request: string;
  payload: unknown;
}

export interface RoundOptions {
  url: string;
  clients: readonly Client[];
  concurrency: number;
  maxMs: number;
  /** The request each client makes before it disconnects (signaling: leave); none for the baseline. */
  leave?: { request: string; payload: (client: Client) => unknown };
  /** Tallies the replies by a label (the call mode a join saw, say). */
  label?: (reply: unknown) => string;
  /** Server processes whose CPU is reported (pids by name). */
  pids: Record<string, number | undefined>;
  requestTimeoutMs?: number;
}

export interface RoundResult {
  completed: number;
  seconds: number;
  per_second: number;
  ack_p50_ms: number;
  cpu_pct_of_core: Record<string, number>;
  machine_busy_pct: number;
}

export interface PhaseResult {
  rounds: number;
  clients_per_round: number;
  completed: number;
  /** Median over the rounds of connect + request completions per second, `concurrency` in flight. */
  per_second: number;
  /** Latencies pooled over the rounds. */
  connect: Summary;
  ack: Summary;
  connect_plus_ack: Summary;
  replies?: Record<string, number>;
  leave?: { ack: Summary; failures: ReturnType<Failures['toJSON']> };
  failures: ReturnType<Failures['toJSON']>;
  by_round: RoundResult[];
}

export class ConnectAckPhase {
  readonly #connectMs: number[] = [];
  readonly #ackMs: number[] = [];
  readonly #totalMs: number[] = [];
  readonly #failures = new Failures();
  readonly #replies = new Map<string, number>();
  readonly #leaveMs: number[] = [];
  readonly #leaveFailures = new Failures();
  readonly #rounds: RoundResult[] = [];
  #clients = 0;
  #hasLeave = false;
  #hasLabel = false;

  async round(o: RoundOptions): Promise<RoundResult> {
    const timeout = o.requestTimeoutMs ?? 10_000;
    const open: Array<{ socket: Socket; client: Client }> = [];
    const acks: number[] = [];
    this.#clients = o.clients.length;
    this.#hasLeave ||= o.leave !== undefined;
    this.#hasLabel ||= o.label !== undefined;

    const pids = Object.entries(o.pids).filter((e): e is [string, number] => e[1] !== undefined);
    // Scheduler run time (ns resolution): /proc/<pid>/stat's 10 ms ticks are too coarse for a round.
    const cpu0 = pids.map(([, pid]) => processCpuUsPrecise(pid));
    const self = selfCpuMeter();
    const machine = machineCpuMeter();
    const { seconds } = await lanes(o.clients.length, o.concurrency, Date.now() + o.maxMs, async (i) => {
      const client = o.clients[i]!;
      const t0 = performance.now();
      let socket: Socket | undefined;
      try {
        socket = await connect(o.url, client.auth, timeout);
        const t1 = performance.now();
        const reply = await ask<unknown>(socket, client.request, client.payload, timeout);
        const t2 = performance.now();
        this.#connectMs.push(t1 - t0);
        this.#ackMs.push(t2 - t1);
        acks.push(t2 - t1);
        this.#totalMs.push(t2 - t0);
        open.push({ socket, client });
        if (o.label) {
          const label = o.label(reply);
          this.#replies.set(label, (this.#replies.get(label) ?? 0) + 1);
        }
      } catch (error) {
        this.#failures.add(failureKind(error), error);
        socket?.close();
      }
    });
    const cpu: Record<string, number> = { bench_client: round(self.stop().pctOfCore, 1) };
    pids.forEach(([name, pid], i) => {
      cpu[name] = round((100 * (processCpuUsPrecise(pid) - cpu0[i]!)) / (seconds * 1e6), 1);
    });
    const result: RoundResult = {
      completed: open.length,
      seconds: round(seconds),
      per_second: round(open.length / seconds, 1),
      ack_p50_ms: summarize(acks).p50_ms,
      cpu_pct_of_core: cpu,
      machine_busy_pct: machine.stop().busy_pct,
    };
    this.#rounds.push(result);

    // Teardown, not counted in the throughput: leave (when the server has calls), then disconnect.
    if (o.leave) {
      const { request, payload } = o.leave;
      await lanes(open.length, o.concurrency, Date.now() + o.maxMs, async (i) => {
        const { socket, client } = open[i]!;
        const t0 = performance.now();
        try {
          await ask(socket, request, payload(client), timeout);
          this.#leaveMs.push(performance.now() - t0);
        } catch (error) {
          this.#leaveFailures.add(failureKind(error), error);
        }
      });
    }
    for (const { socket } of open) socket.close();
    // Let the server handle the disconnects before the next round starts.
    await sleep(500);
    return result;
  }

  result(): PhaseResult {
    const rates = this.#rounds.map((r) => r.per_second).sort((a, b) => a - b);
    const median = rates.length
      ? (rates[(rates.length - 1) >> 1]! + rates[rates.length >> 1]!) / 2
      : Number.NaN;
    return {
      rounds: this.#rounds.length,
      clients_per_round: this.#clients,
      completed: this.#totalMs.length,
      per_second: round(median, 1),
      connect: summarize(this.#connectMs),
      ack: summarize(this.#ackMs),
      connect_plus_ack: summarize(this.#totalMs),
      ...(this.#hasLabel ? { replies: Object.fromEntries(this.#replies) } : {}),
      ...(this.#hasLeave
        ? { leave: { ack: summarize(this.#leaveMs), failures: this.#leaveFailures.toJSON() } }
        : {}),
      failures: this.#failures.toJSON(),
      by_round: this.#rounds,
    };
  }
}
