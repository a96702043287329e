import { describe, expect, it } from 'vitest';
import { createLogger, throttledWarn } from '../src/index.js';

function capture() {
  const lines: string[] = [];
  const destination = { write: (line: string) => void lines.push(line) };
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { destination, records };
}

describe('createLogger', () => {
  it('writes JSON lines tagged with service and node', () => {
    const { destination, records } = capture();
    const log = createLogger({ service: 'sfu', nodeId: 'sfu-a', destination });
    log
      .child({ callId: 'c1' })
      .child({ participantId: 'p1' })
      .info({ transportId: 't1' }, 'transport connected');
    const [rec] = records();
    expect(rec).toMatchObject({
      service: 'sfu',
      node: 'sfu-a',
      level: 'info',
      callId: 'c1',
      participantId: 'p1',
      transportId: 't1',
      msg: 'transport connected',
    });
    expect(typeof rec?.time).toBe('string');
    expect(rec).not.toHaveProperty('pid');
  });

  it('redacts tokens, passwords, secrets and authorization headers', () => {
    const { destination, records } = capture();
    const log = createLogger({ service: 'signaling', nodeId: 'sig-1', destination });
    log.info(
      {
        token: 'eyJ.top.level',
        auth: { token: 'eyJ.nested', user: 'alice' },
        req: { headers: { authorization: 'Bearer abc', host: 'x' } },
        config: { jwt: { secret: 'jwt-secret-value' }, redis: { password: 'redis-pw' } },
        user: { password: 'hunter2', jwt: 'eyJ.jwt' },
      },
      'login',
    );
    const line = JSON.stringify(records()[0]);
    for (const leaked of ['eyJ', 'Bearer abc', 'jwt-secret-value', 'redis-pw', 'hunter2']) {
      expect(line).not.toContain(leaked);
    }
    expect(records()[0]).toMatchObject({
      token: '[redacted]',
      auth: { token: '[redacted]', user: 'alice' },
      req: { headers: { authorization: '[redacted]', host: 'x' } },
      // A key named jwt is redacted whole, even an object: safer than guessing which part is secret.
      config: { jwt: '[redacted]', redis: { password: '[redacted]' } },
    });
  });

  it('honours the level', () => {
    const { destination, records } = capture();
    const log = createLogger({ service: 's', nodeId: 'n', level: 'warn', destination });
    log.info('hidden');
    log.warn('shown');
    expect(records().map((r) => r.msg)).toEqual(['shown']);
    const silent = capture();
    createLogger({ service: 's', nodeId: 'n', level: 'silent', destination: silent.destination }).fatal('x');
    expect(silent.records()).toEqual([]);
  });
});

describe('throttledWarn', () => {
  it('logs the first warning at once, then one per interval with the count it left out', async () => {
    const { destination, records } = capture();
    const log = createLogger({ service: 'sfu', nodeId: 'sfu-a', destination });
    const warn = throttledWarn(log, 'redis connection error; reconnecting', 200);
    for (let i = 0; i < 50; i++) warn({ attempt: i });
    expect(records()).toHaveLength(1);
    expect(records()[0]).toMatchObject({ attempt: 0, msg: 'redis connection error; reconnecting' });
    await new Promise((r) => setTimeout(r, 250));
    warn({ attempt: 50 });
    expect(records()).toHaveLength(2);
    expect(records()[1]).toMatchObject({ attempt: 50, suppressed: 49 });
  });
});
