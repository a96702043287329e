import type { Socket } from 'node:dgram';
import type { Api } from '@trellis/protocol';
import { type RTCDtlsTransport, RTCPeerConnection } from 'werift';
import { LoadError } from '../LoadError';

type TransportParams = Pick<
  Api.ApiReplyOf<typeof Api.CreateTransport>,
  'transportId' | 'iceParameters' | 'iceCandidates' | 'dtlsParameters'
>;
type DtlsParameters = Api.ApiRequestOf<typeof Api.ConnectTransport>['dtlsParameters'];

/**
 * One werift connection to one mediasoup WebRtcTransport: ICE (mediasoup is ICE-lite) and
 * DTLS-SRTP, nothing above it.
 *
 * Why not mediasoup-client on werift: its handlers negotiate one m-section per producer/consumer and
 * renegotiate on every change — for 50 participants that is ~100 m-sections re-parsed by every
 * subscriber on every join, the load tester's own CPU going into SDP. Instead the remote SDP is built
 * here from the transport's ICE/DTLS parameters with a single m-section, only to bring up the bundle;
 * media then flows below werift's transceivers: RtpPublisher writes simulcast layers with its own
 * SSRCs through `dtls.sendRtp` (werift's sender has no simulcast), and RtpSubscriber reads every
 * decrypted packet from `dtls.onRtp`, demultiplexing consumers by the SSRCs their consume replies
 * announce. mediasoup never sees an SDP, only the RTP parameters the produce/consume requests carry.
 */
export class MediasoupLink {
  private constructor(
    readonly transportId: string,
    readonly pc: RTCPeerConnection,
    readonly dtls: RTCDtlsTransport,
  ) {}

  /**
   * Answers mediasoup's (synthesised) offer, hands our DTLS fingerprint to `connect` (signaling's
   * connectTransport) and resolves once DTLS is up.
   */
  static async open(
    params: TransportParams,
    connect: (dtlsParameters: DtlsParameters) => Promise<unknown>,
    timeoutMs = 15_000,
  ): Promise<MediasoupLink> {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceUseIpv6: false });
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: remoteOffer(params) });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      const fingerprint = /a=fingerprint:(\S+) (\S+)/.exec(pc.localDescription?.sdp ?? '');
      if (!fingerprint) throw new LoadError('TRANSPORT_FAILED', 'werift produced no DTLS fingerprint');
      // Our answer says setup:active: we are the DTLS client, mediasoup the server.
      await connect({
        role: 'client',
        fingerprints: [{ algorithm: fingerprint[1] as string, value: fingerprint[2] as string }],
      });
      await waitConnected(pc, timeoutMs, params.transportId);
      enlargeSocketBuffers(pc);
      const dtls = pc.dtlsTransports[0];
      if (!dtls) throw new LoadError('TRANSPORT_FAILED', 'werift has no DTLS transport after connecting');
      return new MediasoupLink(params.transportId, pc, dtls);
    } catch (error) {
      await pc.close().catch(() => undefined);
      throw error;
    }
  }

  get connected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  async close(): Promise<void> {
    await this.pc.close().catch(() => undefined);
  }
}

/**
 * A subscriber in a big call takes thousands of packets a second on one socket, and a load generator
 * shares its cores: with Linux's default 208 KiB receive buffer, a worker descheduled for a moment
 * loses packets the SFU sent fine — loss that would be the tester's, not the cluster's. werift has no
 * option for it, so its sockets are reached through the ICE connection (kernel-capped at rmem_max).
 */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
function enlargeSocketBuffers(pc: RTCPeerConnection): void {
  for (const ice of pc.iceTransports) {
    const protocols = (ice.connection as unknown as { protocols?: unknown[] }).protocols ?? [];
    for (const protocol of protocols) {
      const socket = (protocol as { transport?: { socket?: Socket } }).transport?.socket;
      try {
        socket?.setRecvBufferSize(SOCKET_BUFFER_BYTES);
        socket?.setSendBufferSize(SOCKET_BUFFER_BYTES);
      } catch {
        // Not a UDP socket (or already closed): nothing to enlarge.
      }
    }
  }
}

function waitConnected(pc: RTCPeerConnection, timeoutMs: number, transportId: string): Promise<void> {
  if (pc.connectionState === 'connected') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unSubscribe();
      reject(
        new LoadError(
          'TRANSPORT_TIMEOUT',
          `transport ${transportId}: ICE/DTLS not connected within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const sub = pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      } else if (state === 'failed' || state === 'closed') {
        clearTimeout(timer);
        sub.unSubscribe();
        reject(new LoadError('TRANSPORT_FAILED', `transport ${transportId}: connection ${state}`));
      }
    });
  });
}

/** mediasoup's side as an offer: ICE-lite, its candidates and fingerprint, one bundled m-section. */
function remoteOffer(p: TransportParams): string {
  const fingerprints = p.dtlsParameters.fingerprints.map((f) => `a=fingerprint:${f.algorithm} ${f.value}`);
  // werift speaks ICE over UDP only (iceUseTcp off): TCP candidates would only be tried and fail.
  const candidates = p.iceCandidates
    .filter((c) => c.protocol === 'udp')
    .map((c) => `a=candidate:${c.foundation} 1 udp ${c.priority} ${c.address} ${c.port} typ ${c.type}`);
  if (candidates.length === 0) {
    throw new LoadError('NO_UDP_CANDIDATE', `transport ${p.transportId} announced no UDP candidate`);
  }
  return [
    'v=0',
    `o=trellis-load ${Date.now()} 1 IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=ice-lite',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS *',
    'm=video 7 UDP/TLS/RTP/SAVPF 96',
    'c=IN IP4 127.0.0.1',
    'a=mid:0',
    'a=sendrecv',
    `a=ice-ufrag:${p.iceParameters.usernameFragment}`,
    `a=ice-pwd:${p.iceParameters.password}`,
    ...fingerprints,
    'a=setup:actpass',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:96 VP8/90000',
    ...candidates,
    'a=end-of-candidates',
    '',
  ].join('\r\n');
}
