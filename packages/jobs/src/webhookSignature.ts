import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying `t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-trellis-signature';

/** Signs the exact bytes sent; the timestamp inside the MAC stops a captured body being replayed later. */
export function signWebhook(secret: string, body: string, timestamp = Date.now()): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export type WebhookVerification = { ok: true; timestamp: number } | { ok: false; reason: string };

/** For receivers: checks the MAC (in constant time) and that the signature is fresh. */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string | undefined,
  { toleranceMs = 5 * 60_000, now = Date.now() }: { toleranceMs?: number; now?: number } = {},
): WebhookVerification {
  if (!header) return { ok: false, reason: 'missing signature' };
  const parts = new Map(
    header.split(',').map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()] as const;
    }),
  );
  const timestamp = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isSafeInteger(timestamp) || !given || !/^[0-9a-f]{64}$/.test(given))
    return { ok: false, reason: 'malformed signature' };
  if (Math.abs(now - timestamp) > toleranceMs) return { ok: false, reason: 'stale signature' };
  const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) return { ok: false, reason: 'bad signature' };
  return { ok: true, timestamp };
}
