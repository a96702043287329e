import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** Fixed RTP header size (RFC 3550) without CSRCs or extensions: all this module writes. */
export const RTP_HEADER_SIZE = 12;

export interface RtpPacketFields {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker?: boolean;
  payload: Uint8Array;
}

export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** Media bytes: after CSRCs and header extension, without padding. */
  payloadSize: number;
}

/** A version-2 RTP packet without padding, extension or CSRCs. Out-of-range fields wrap. */
export function buildRtpPacket(fields: RtpPacketFields): Buffer {
  const packet = Buffer.alloc(RTP_HEADER_SIZE + fields.payload.length);
  packet[0] = 0x80;
  packet[1] = ((fields.marker ? 1 : 0) << 7) | (fields.payloadType & 0x7f);
  packet.writeUInt16BE(fields.sequenceNumber & 0xffff, 2);
  packet.writeUInt32BE(fields.timestamp >>> 0, 4);
  packet.writeUInt32BE(fields.ssrc >>> 0, 8);
  packet.set(fields.payload, RTP_HEADER_SIZE);
  return packet;
}

/**
 * With rtcp-mux, RTCP shares the socket; RFC 5761 tells them apart by the second byte, where
 * RTCP packet types 192-223 sit in the range RTP payload types must avoid.
 */
export function isRtcp(packet: Uint8Array): boolean {
  const second = packet[1];
  return packet.length >= 2 && second !== undefined && second >= 192 && second <= 223;
}

/** The header of an RTP packet, or undefined for anything else (RTCP, STUN, short or non-v2 data). */
export function parseRtpHeader(packet: Uint8Array): RtpHeader | undefined {
  if (packet.length < RTP_HEADER_SIZE || (packet[0] ?? 0) >> 6 !== 2 || isRtcp(packet)) return undefined;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const first = view.getUint8(0);
  const second = view.getUint8(1);
  const payloadOffset = payloadOffsetOf(view, first);
  const padding = first & 0x20 ? view.getUint8(packet.length - 1) : 0;
  const payloadSize = packet.length - payloadOffset - padding;
  if (payloadSize < 0) return undefined;
  return {
    payloadType: second & 0x7f,
    marker: (second & 0x80) !== 0,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payloadSize,
  };
}

/** Skips the CSRC list and the header extension (an SFU adds its own extensions when forwarding). */
function payloadOffsetOf(view: DataView, first: number): number {
  const afterCsrcs = RTP_HEADER_SIZE + 4 * (first & 0x0f);
  if (!(first & 0x10)) return afterCsrcs;
  if (view.byteLength < afterCsrcs + 4) return Number.POSITIVE_INFINITY;
  return afterCsrcs + 4 + 4 * view.getUint16(afterCsrcs + 2);
}

/**
 * A VP8 RTP payload (RFC 7741): a minimal descriptor with S=1 and partition 0, then a frame whose
 * first byte says key frame or not. An SFU forwards a fresh consumer's stream only from a key frame
 * on, so key frames let raw test packets through; the rest of the bytes are filler.
 */
export function vp8Payload(options: { size?: number; keyFrame?: boolean } = {}): Uint8Array {
  const { size = 200, keyFrame = true } = options;
  const payload = new Uint8Array(Math.max(size, 2));
  payload[0] = 0x10;
  // The frame tag's lowest bit is the inverse key frame flag.
  payload[1] = keyFrame ? 0x00 : 0x01;
  for (let i = 2; i < payload.length; i++) payload[i] = i & 0xff;
  return payload;
}

export interface RtpStreamOptions {
  host: string;
  port: number;
  count: number;
  intervalMs: number;
  payloadType: number;
  ssrc: number;
  /** Default: a VP8 key frame of 200 bytes for every packet. */
  payload?: Uint8Array | ((index: number) => Uint8Array);
  /** RTP clock rate of the payload type, for timestamps that advance in real time. Default 90 kHz. */
  clockRate?: number;
  firstSequenceNumber?: number;
  firstTimestamp?: number;
  /**
   * Send from this socket (left open). Otherwise a socket on 127.0.0.1 is made and closed after the
   * last packet; pass one when the peer must keep answering the same address (comedia).
   */
  socket?: Socket;
}

export interface RtpStreamResult {
  sent: number;
  /** The local port the packets came from: the address a comedia transport latches onto. */
  localPort: number;
}

export async function openUdpSocket(host = '127.0.0.1', port = 0): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.bind(port, host);
  await once(socket, 'listening');
  return socket;
}

function sendDatagram(socket: Socket, packet: Uint8Array, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.send(packet, port, host, (error) => (error ? reject(error) : resolve()));
  });
}

/** Sends `count` packets, one marker-ended frame each, `intervalMs` apart; resolves after the last. */
export async function sendRtpStream(options: RtpStreamOptions): Promise<RtpStreamResult> {
  const { host, port, count, intervalMs, payloadType, ssrc, clockRate = 90_000 } = options;
  const fixedPayload = options.payload instanceof Uint8Array ? options.payload : vp8Payload();
  const payloadFor = typeof options.payload === 'function' ? options.payload : () => fixedPayload;
  const firstSequenceNumber = options.firstSequenceNumber ?? Math.floor(Math.random() * 0x10000);
  const firstTimestamp = options.firstTimestamp ?? Math.floor(Math.random() * 0x1_0000_0000);
  const ticksPerPacket = Math.round((clockRate * intervalMs) / 1000);
  const socket = options.socket ?? (await openUdpSocket());
  const startedAt = Date.now();
  try {
    for (let index = 0; index < count; index++) {
      const packet = buildRtpPacket({
        payloadType,
        ssrc,
        marker: true,
        sequenceNumber: firstSequenceNumber + index,
        timestamp: firstTimestamp + index * ticksPerPacket,
        payload: payloadFor(index),
      });
      await sendDatagram(socket, packet, port, host);
      // Paced against the start time, so event-loop lateness does not stretch the whole stream.
      const wait = startedAt + (index + 1) * intervalMs - Date.now();
      if (index < count - 1 && wait > 0) await sleep(wait);
    }
    return { sent: count, localPort: socket.address().port };
  } finally {
    if (!options.socket) socket.close();
  }
}

export interface RtpReceiver {
  readonly host: string;
  readonly port: number;
  /** RTP packets received (RTCP and other datagrams excluded). */
  readonly rtpPackets: number;
  readonly rtcpPackets: number;
  /** Header of every RTP packet received, in arrival order. */
  readonly headers: readonly RtpHeader[];
  /** Where the RTP came from: the address to answer (or to check), once a packet arrived. */
  readonly remote: { address: string; port: number } | undefined;
  countBySsrc(ssrc: number): number;
  close(): Promise<void>;
}

/** A UDP socket that records every RTP header it receives; binds 127.0.0.1 on a free port by default. */
export async function createRtpReceiver(
  options: { host?: string; port?: number } = {},
): Promise<RtpReceiver> {
  const host = options.host ?? '127.0.0.1';
  const socket = await openUdpSocket(host, options.port ?? 0);
  const headers: RtpHeader[] = [];
  let rtcpPackets = 0;
  let remote: { address: string; port: number } | undefined;
  socket.on('message', (message, rinfo) => {
    const header = parseRtpHeader(message);
    if (header) {
      headers.push(header);
      remote = { address: rinfo.address, port: rinfo.port };
    } else if (isRtcp(message)) {
      rtcpPackets++;
    }
  });
  let closed: Promise<void> | undefined;
  return {
    host,
    port: socket.address().port,
    get rtpPackets() {
      return headers.length;
    },
    get rtcpPackets() {
      return rtcpPackets;
    },
    headers,
    get remote() {
      return remote;
    },
    countBySsrc: (ssrc) => headers.filter((header) => header.ssrc === ssrc).length,
    close() {
      closed ??= new Promise((resolve) => socket.close(() => resolve()));
      return closed;
    },
  };
}
