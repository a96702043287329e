import { Redis } from 'ioredis';

/**
 * The floor the bus is compared with: the same stream round trip written directly with ioredis —
 * XADD a request, a server XREADGROUPs it, XADDs the reply and XACKs, the client XREADs the reply.
 * No envelopes, no validation, no dedup, no metrics.
 */
export async function startBaseline(url: string) {
  const commands = new Redis(url, { enableAutoPipelining: true });
  const serverRead = new Redis(url);
  const clientRead = new Redis(url);
  const requests = 'bench:baseline:req';
  const replies = 'bench:baseline:rep';
  await commands.del(requests, replies);
  await commands.xgroup('CREATE', requests, 'g', '$', 'MKSTREAM');
  let running = true;

  const serve = (async () => {
    while (running) {
      const batch = (await serverRead
        .xreadgroup('GROUP', 'g', 'c', 'COUNT', 64, 'BLOCK', 200, 'STREAMS', requests, '>')
        .catch(() => null)) as [string, [string, string[]][]][] | null;
      for (const [, entries] of batch ?? []) {
        await Promise.all(
          entries.map(async ([id, fields]) => {
            await commands.xadd(replies, '*', 'id', fields[1]!, 'body', fields[3]!);
            await commands.xack(requests, 'g', id);
          }),
        );
      }
    }
  })();

  const waiting = new Map<string, () => void>();
  let lastId = '0-0';
  const receive = (async () => {
    while (running) {
      const batch = (await clientRead
        .xread('COUNT', 256, 'BLOCK', 200, 'STREAMS', replies, lastId)
        .catch(() => null)) as [string, [string, string[]][]][] | null;
      for (const [id, fields] of batch?.[0]?.[1] ?? []) {
        lastId = id;
        const done = waiting.get(fields[1]!);
        waiting.delete(fields[1]!);
        done?.();
      }
    }
  })();

  let seq = 0;
  return {
    request(body: string): Promise<void> {
      const id = String(seq++);
      return new Promise<void>((resolve) => {
        waiting.set(id, resolve);
        void commands.xadd(requests, '*', 'id', id, 'body', body);
      });
    },
    async close() {
      running = false;
      await Promise.all([serve, receive]);
      await commands.del(requests, replies);
      for (const c of [commands, serverRead, clientRead]) c.disconnect();
    },
  };
}
