import { type ChildProcess, spawn } from 'node:child_process';
import { StopWaiting, waitFor } from './waitFor';

/**
 * Child processes started by tests. They are killed when the test process exits, however it exits,
 * so a failed run never leaves a redis-server or a service behind.
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface SpawnOptions {
  name?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Echo the child's output to the test's stderr (for debugging). */
  echo?: boolean;
  /** Run as another user (e.g. postgres, which refuses root); the process itself, no wrapper. */
  uid?: number;
  gid?: number;
}

export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #output: string[] = [];
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(command: string, args: readonly string[], opts: SpawnOptions = {}) {
    this.name = opts.name ?? command;
    this.child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      ...(opts.uid === undefined ? {} : { uid: opts.uid }),
      ...(opts.gid === undefined ? {} : { gid: opts.gid }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this.child);
    const collect = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.#output.push(text);
      if (opts.echo) process.stderr.write(`[${this.name}] ${text}`);
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  get output(): string {
    return this.#output.join('');
  }

  /** Resolves with the first output line matching `pattern`; fails early if the process exits first. */
  async waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return waitFor(
      () => {
        const match = this.output.match(pattern);
        if (match) return match;
        if (!this.running) {
          throw new StopWaiting(
            `${this.name} exited (${JSON.stringify(this.#exit)}) before printing ${pattern}`,
          );
        }
        return undefined;
      },
      { timeoutMs, what: `${this.name} to print ${pattern}` },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- ${this.name} output ---\n${this.output.slice(-4000)}`);
    });
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs` if the process ignores it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /**
   * Sends `signal` and reports how the process ended by itself: its exit code (null when it was
   * killed), and the milliseconds from the signal to the exit. SIGKILL after `graceMs` still
   * guarantees nothing is left behind; `killed` says it came to that.
   */
  async signalAndTime(
    signal: NodeJS.Signals,
    graceMs = 30_000,
  ): Promise<{ code: number | null; ms: number; killed: boolean }> {
    const began = performance.now();
    let killed = false;
    this.child.kill(signal);
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, graceMs);
    const { code } = await this.exited;
    clearTimeout(timer);
    return { code, ms: Math.round(performance.now() - began), killed };
  }

  /** kill -9: the process gets no chance to clean up, as in a crash. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL');
  }
}

export function spawnProcess(command: string, args: readonly string[], opts?: SpawnOptions): ManagedProcess {
  return new ManagedProcess(command, args, opts);
}
