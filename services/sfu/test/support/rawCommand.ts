import { randomUUID } from 'node:crypto';
import type { RedisBus } from '@trellis/bus';
import {
  type CommandDef,
  type ErrorCode,
  ReplyEnvelope,
  type ReplyOf,
  type RequestOf,
  TrellisError,
  validationError,
} from '@trellis/protocol';
import { waitFor } from '@trellis/testkit';

/**
 * Sends a command envelope with an arbitrary payload straight onto the node's command stream, as a
 * buggy or hostile sender could: the bus client validates what it sends, so malformed input has to
 * bypass it to reach the sfu at all. Resolves with the reply's result; rejects with its TrellisError.
 */
export async function sendRawCommand(
  bus: RedisBus,
  target: string,
  type: string,
  payload: unknown,
  timeoutMs = 10_000,
  version = 1,
): Promise<unknown> {
  const inbox = bus.keys.replyStream(`raw:${randomUUID()}`);
  const id = randomUUID();
  const now = Date.now();
  const envelope = {
    id,
    kind: 'command',
    type,
    version,
    ts: now,
    source: 'sfu-test-raw',
    correlationId: id,
    replyTo: inbox,
    deadline: now + timeoutMs,
    payload,
  };
  await bus.redis.xadd(bus.keys.commandStream(target), '*', 'm', JSON.stringify(envelope));
  try {
    const entries = await waitFor(
      async () => {
        const found = await bus.redis.xrange(inbox, '-', '+');
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs, what: `a reply to raw ${type}` },
    );
    const fields = entries[0]![1];
    const reply = ReplyEnvelope.parse(JSON.parse(fields[fields.indexOf('m') + 1] ?? 'null'));
    if (!reply.ok) throw TrellisError.fromBody(reply.error);
    return reply.result;
  } finally {
    await bus.redis.del(inbox);
  }
}

/**
 * A well-formed, typed command sent by the raw path: validated as the bus client would, reply
 * checked against the command's schema. For commands expected to fail: RedisCommandClient.request
 * can leave its reply promise rejected while it still awaits its own XADD (a fast error reply read
 * first under a busy event loop), which Node reports as an unhandled rejection and vitest as a
 * failed run. Here the command is written before the reply is looked for, so that cannot happen.
 */
export async function requestRaw<C extends CommandDef>(
  bus: RedisBus,
  target: string,
  def: C,
  payload: RequestOf<C>,
  timeoutMs = 10_000,
): Promise<ReplyOf<C>> {
  const parsed = def.request.safeParse(payload);
  if (!parsed.success) throw validationError(parsed.error, `${def.type} request`);
  const result = await sendRawCommand(bus, target, def.type, parsed.data, timeoutMs, def.version);
  return def.reply.parse(result) as ReplyOf<C>;
}

/** The error code a rejected promise carries, or a marker saying it didn't reject with a TrellisError. */
export async function errorCodeOf(promise: Promise<unknown>): Promise<ErrorCode | string> {
  try {
    const value = await promise;
    return `resolved: ${JSON.stringify(value).slice(0, 200)}`;
  } catch (error) {
    return error instanceof TrellisError ? error.code : `non-Trellis error: ${String(error)}`;
  }
}
