// Where the media of non-probe subscribers goes: somewhere the kernel drops it, so the SFUs do the
// full work and the load generator reads nothing.
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

export type SinkKind = 'unbound' | 'unread';

/**
 * Where non-probe subscribers' media goes. 'unbound': a loopback port nobody holds (bound once to
 * learn a free one, then released): the kernel drops each packet and answers it with an ICMP port
 * unreachable (not rate-limited on loopback). 'unread': a socket of this process that never reads
 * (libuv polling stopped, a tiny receive buffer): the kernel drops on the full queue, no ICMP.
 */
export async function openSink(kind: SinkKind): Promise<{ port: number; close(): Promise<void> }> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4096 });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  const close = () => new Promise<void>((resolve) => socket.close(() => resolve()));
  if (kind === 'unbound') {
    await close();
    return { port, close: async () => {} };
  }
  // Node has no public way to stop reading a dgram socket: its handle (internal state) does.
  const stateKey = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'state symbol');
  const state = (stateKey ? (socket as unknown as Record<symbol, unknown>)[stateKey] : undefined) as
    | { handle?: { recvStop?: () => number } }
    | undefined;
  if (typeof state?.handle?.recvStop !== 'function') {
    await close();
    throw new Error('cannot stop reading a dgram socket in this Node version: use --sink unbound');
  }
  state.handle.recvStop();
  return { port, close };
}
