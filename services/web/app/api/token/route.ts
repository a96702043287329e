import { signalingUrls } from '../../../lib/config';

const Id = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Local runs only: asks signaling's development token route for a room grant, server to server (so
 * the browser needs no CORS for it). A real deployment replaces this with its own identity check.
 */
export async function POST(request: Request): Promise<Response> {
  let body: { roomId?: unknown; name?: unknown };
  try {
    body = (await request.json()) as typeof body;
  } catch {
    return Response.json({ error: 'expected a JSON body' }, { status: 400 });
  }
  const roomId = typeof body.roomId === 'string' ? body.roomId : '';
  const name = typeof body.name === 'string' ? body.name.trim().slice(0, 64) : '';
  if (!Id.test(roomId) || name.length === 0)
    return Response.json({ error: 'roomId (A-Z a-z 0-9 . _ : -) and name are required' }, { status: 400 });
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
      return Response.json({ token, identity });
    } catch (error) {
      errors.push(`${base}: ${String(error)}`);
    }
  }
  return Response.json({ error: `no signaling node gave a token: ${errors.join('; ')}` }, { status: 502 });
}
