import { Api, ErrorBody, errorStatus } from '@trellis/protocol';
import { malformedArbitrary, validArbitrary } from '@trellis/testkit/fuzz';
import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectSocket,
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../support/stack';
import { joiner, sfuCall, type TestParticipant } from '../support/TestParticipant';

const SOCKET_MESSAGES = 6000;
const REST_MESSAGES = 4000;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const statuses = new Set<number>([200, ...Object.values(errorStatus)]);

/** One generated message: a request name (sometimes one that does not exist) and its payload. */
function messages(roomId: string, count: number) {
  const perRequest = Api.apiRequests.map((def) =>
    fc.record({
      name: fc.constant<string>(def.name),
      payload: fc.oneof(
        { weight: 8, arbitrary: malformedArbitrary(def.request) },
        { weight: 2, arbitrary: validArbitrary(def.request) },
      ),
      // Half aim at the room the call is in, so the deepest paths (not just FORBIDDEN) are reached.
      ownRoom: fc.boolean(),
    }),
  );
  const unknownName = fc.record({
    name: fc.string({ maxLength: 40 }),
    payload: fc.anything(),
    ownRoom: fc.constant(false),
  });
  // Frames over the 1 MB limit close the connection instead of being answered: that case has its
  // own check below, so the rare generated giant is left out here.
  const fits = (m: { payload: unknown }) => (JSON.stringify(m.payload) ?? '').length < 1_000_000;
  return fc
    .sample(fc.oneof(...perRequest, unknownName).filter(fits), { numRuns: count, seed })
    .map(({ name, payload, ownRoom }) => ({
      name,
      payload:
        ownRoom && typeof payload === 'object' && payload !== null && !Array.isArray(payload)
          ? { ...payload, roomId }
          : payload,
    }));
}

async function inBatches<T>(
  items: readonly T[],
  width: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(run));
}

describe(`fuzzing the API over REST and Socket.IO (seed ${seed})`, () => {
  let stack: Stack;
  let sig: InProcessSignaling;
  const people: TestParticipant[] = [];

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 1 });
    // Limits off: the point is what each handler does with bad input, not the 429 in front of it.
    sig = await startSignaling(stack.redis.url, { RATE_LIMITS: 'false' });
  }, 60_000);

  afterAll(async () => {
    for (const p of people) p.close();
    await sig?.close();
    await stack?.close();
  });

  it('answers 10,000 malformed and edge-case messages with typed errors while a call keeps its media', async () => {
    const roomId = uid('room');
    await sfuCall(joiner(stack, roomId, people), ['a', 'b', 'c'], sig.url);
    const producersBefore = Object.keys((await sig.node.store.get(roomId))!.producers).sort();

    const fuzzer: Socket = await connectSocket(sig.url, await stack.token(roomId, 'fuzzer'));
    const codes = new Map<string, number>();
    const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1);
    await inBatches(messages(roomId, SOCKET_MESSAGES), 50, async ({ name, payload }) => {
      const ack = (await fuzzer.timeout(10_000).emitWithAck(name, payload)) as Api.Ack<unknown>;
      if (ack.ok) return void count('OK');
      expect(ErrorBody.safeParse(ack.error).success, JSON.stringify(ack.error)).toBe(true);
      count(ack.error.code);
    });

    const token = await stack.token(roomId, 'rest-fuzzer');
    const badTokens = ['', 'Bearer', 'Bearer x.y.z', `Bearer ${token}x`, `Basic ${token}`];
    const rest = fc.sample(
      fc.record({
        def: fc.constantFrom(...Api.apiRequests),
        params: fc.dictionary(
          fc.constantFrom('roomId', 'transportId', 'producerId', 'consumerId', 'transitionId'),
          fc.string({ maxLength: 300 }),
        ),
        body: fc.oneof(
          fc.anything().map((v) => JSON.stringify(v) ?? 'null'),
          fc.string({ maxLength: 2000 }),
          fc.constant('{"roomId":'),
        ),
        auth: fc.oneof(
          { weight: 9, arbitrary: fc.constant(`Bearer ${token}`) },
          { weight: 1, arbitrary: fc.constantFrom(...badTokens) },
        ),
        contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
      }),
      { numRuns: REST_MESSAGES, seed },
    );
    await inBatches(rest, 25, async ({ def, params, body, auth, contentType }) => {
      const path = def.http.path.replace(/\{([A-Za-z]+)\}/g, (_, key: string) =>
        encodeURIComponent(
          key === 'roomId' && params.roomId === undefined ? roomId : (params[key] ?? 'x') || 'x',
        ),
      );
      const res = await fetch(`${sig.url}${path}`, {
        method: def.http.method,
        headers: { authorization: auth, 'content-type': contentType },
        ...(def.http.method === 'GET' ? {} : { body }),
      });
      expect(statuses.has(res.status), `${def.name} answered ${res.status}`).toBe(true);
      const answer = (await res.json()) as unknown;
      if (res.status === 200) return void count('OK');
      expect(ErrorBody.safeParse(answer).success, JSON.stringify(answer)).toBe(true);
      count((answer as ErrorBody).code);
    });
    console.log(
      `fuzz seed ${seed}: ${JSON.stringify(Object.fromEntries([...codes].sort((x, y) => y[1] - x[1])))}`,
    );
    expect([...codes.values()].reduce((a, b) => a + b, 0)).toBe(SOCKET_MESSAGES + REST_MESSAGES);

    // Nothing else changed: the call, its producers and its media carry on.
    const state = await sig.node.store.get(roomId);
    expect(state?.mode).toBe('sfu');
    for (const id of ['a', 'b', 'c']) expect(state?.participants[id]).toBeDefined();
    expect(
      Object.values(state!.producers)
        .filter((p) => p.participantId !== 'fuzzer')
        .map((p) => p.id)
        .sort(),
    ).toEqual(producersBefore);
    for (const viewer of people) {
      for (const other of people.filter((p) => p !== viewer)) await viewer.waitForFrames(other.id, 'sfu', 15);
    }
    // A message over the 1 MB frame limit cannot be parsed, so it cannot be answered: the server
    // closes that one connection and nothing else.
    const oversized = await connectSocket(sig.url, await stack.token(roomId, 'oversized'));
    const closed = new Promise((resolve) => oversized.once('disconnect', resolve));
    oversized.emit('getRoom', { roomId, junk: 'x'.repeat(2 * 1024 * 1024) });
    expect(await closed).toBe('transport close');
    expect(fuzzer.connected).toBe(true);
    expect(stack.sfus[0]!.process.child.exitCode).toBeNull();
    expect((await fetch(`${sig.url}/healthz`)).status).toBe(200);
    fuzzer.close();
  }, 180_000);
});
