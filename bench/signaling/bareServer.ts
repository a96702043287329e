// The baseline: a bare Socket.IO server in its own process, websocket only, no auth, no Redis
// adapter, answering every request's ack at once, the same shape as the gateway's socket API
// (`onAny`, ack last). What a join costs beyond this is what signaling adds.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], maxHttpBufferSize: 256 * 1024 });
io.on('connection', (socket) => {
  socket.onAny((_name: unknown, ...args: unknown[]) => {
    const ack = args.at(-1);
    if (typeof ack === 'function') ack({ ok: true, data: args.length > 1 ? args[0] : null });
  });
});
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(http.address() as AddressInfo).port}\n`);
});
const exit = () => {
  io.close();
  process.exit(0);
};
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
