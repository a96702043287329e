import { z } from 'zod';
import { signalingUrls } from '../../../lib/config';
import { webMetrics } from '../../../lib/metrics';

const TokenRequest = z.object({
  roomId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'roomId: 1-128 of A-Z a-z 0-9 . _ : -'),
  name: z.string().trim().min(1, 'name is required').max(64),
});

/**
 * Local runs only: asks signaling's development token route for a room grant, server to server (so
 * the browser needs no CORS for it). A real deployment replaces this with its own identity check.
 */
export async function POST(request: Request): Promise<Response> {
  const { tokenRequests } = webMetrics();
  const parsed = TokenRequest.safeParse(await request.json().catch(() => undefined));
  if (!parsed.success) {
    tokenRequests.inc({ outcome: 'bad_request' });
    return Response.json(
      { code: 'VALIDATION_FAILED', error: parsed.error.issues.map((i) => i.message).join('; ') },
      { status: 400 },
    );
  }
  const { roomId, name } = parsed.data;
  const slug =
    name
      .replace(/[^A-Za-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'guest';
  const identity = `${slug}-${crypto.randomUUID().slice(0, 8)}`;
  const errors: string[] = [];
  for (const base of signalingUrls()) {
    try {
      const reply = await fetch(new URL('/dev/token', base), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ roomId, identity, name }),
        signal: AbortSignal.timeout(5_000),
      });
      if (!reply.ok) {
        errors.push(`${base}: ${reply.status} ${await reply.text()}`);
        continue;
      }
      const { token } = (await reply.json()) as { token: string };
      tokenRequests.inc({ outcome: 'ok' });
      return Response.json({ token, identity });
    } catch (error) {
      errors.push(`${base}: ${String(error)}`);
    }
  }
  tokenRequests.inc({ outcome: 'upstream_error' });
  return Response.json(
    { code: 'UNAVAILABLE', error: `no signaling node gave a token: ${errors.join('; ')}` },
    { status: 502 },
  );
}
