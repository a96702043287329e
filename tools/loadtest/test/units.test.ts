import { describe, expect, it } from 'vitest';
import { RtpHeader, RtpPacket } from 'werift';
import { LoadOptions } from '../src/LoadOptions';
import { FrameGaps } from '../src/media/FrameGaps';
import { readIvf, readOggOpus } from '../src/media/MediaClip';
import { parseVp8, StreamMonitor } from '../src/media/StreamMonitor';

const secret = 'a-secret';

describe('LoadOptions: the tester only goes where it is told, within bounds', () => {
  it('takes a bare http(s) origin and nothing else', () => {
    expect(LoadOptions.parse({ url: 'http://127.0.0.1:3000', secret }).url).toBe('http://127.0.0.1:3000');
    expect(LoadOptions.parse({ url: 'https://sfu.example.com/', secret }).url).toBe(
      'https://sfu.example.com',
    );
    for (const url of [
      'http://127.0.0.1:3000/other/path',
      'http://127.0.0.1:3000/?redirect=evil',
      'http://user:pw@127.0.0.1:3000',
      'ws://127.0.0.1:3000',
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(LoadOptions.safeParse({ url, secret }).success, url).toBe(false);
    }
  });

  it('refuses 1:1 calls (they are P2P) and unbounded runs, and wants one way to get tokens', () => {
    const base = { url: 'http://127.0.0.1:3000', secret };
    const error = LoadOptions.safeParse({ ...base, participants: 2 }).error;
    expect(error?.issues[0]?.message).toMatch(/peer to peer/);
    expect(LoadOptions.safeParse({ ...base, participants: 51 }).success).toBe(false);
    expect(LoadOptions.safeParse({ ...base, durationSeconds: 7200 }).success).toBe(false);
    expect(LoadOptions.safeParse({ ...base, joinRate: 0 }).success).toBe(false);
    expect(LoadOptions.safeParse({ url: base.url }).success).toBe(false);
    expect(LoadOptions.safeParse({ ...base, tokens: ['x'.repeat(20)] }).success).toBe(false);
    expect(LoadOptions.safeParse({ ...base, subscribe: 'some' }).success).toBe(false);
    expect(LoadOptions.parse({ ...base, subscribe: 'last-4' }).subscribe).toBe('last-4');
  });
});

/** A VP8 packet: descriptor with the S bit on the first packet of a frame, then the frame tag. */
function vp8(seq: number, ts: number, opts: { start: boolean; marker: boolean; key?: boolean }): RtpPacket {
  const descriptor = [opts.start ? 0x90 : 0x80, 0xe0, 0x80, 0x01, 0x00, 0x20];
  const payload = Buffer.from([...descriptor, opts.key ? 0x00 : 0x01, 0, 0]);
  return new RtpPacket(
    new RtpHeader({ sequenceNumber: seq, timestamp: ts, marker: opts.marker, ssrc: 1 }),
    payload,
  );
}

describe('StreamMonitor: what a subscriber counts', () => {
  it('counts loss by sequence number, and a retransmission that arrives repairs it', () => {
    const m = new StreamMonitor('audio', 1);
    const audio = (seq: number) =>
      new RtpPacket(new RtpHeader({ sequenceNumber: seq, timestamp: seq * 960 }), Buffer.alloc(20));
    // Across the 16-bit wrap.
    for (const seq of [65533, 65534, 65535, 0, 2, 3]) m.onPacket(audio(seq), 0);
    expect(m.counters).toMatchObject({ expected: 7, lost: 1, packets: 6 });
    expect(m.missing).toEqual([1]);
    m.onPacket(audio(1), 0);
    expect(m.counters).toMatchObject({ expected: 7, lost: 0, packets: 7 });
    // A duplicate is a packet but not a new one.
    m.onPacket(audio(3), 0);
    expect(m.counters).toMatchObject({ expected: 7, lost: 0, packets: 8 });
  });

  it('renders complete frames from a keyframe on, and counts a stall as a freeze', () => {
    const m = new StreamMonitor('video', 1);
    let seq = 100;
    let t = 0;
    const frame = (ts: number, at: number, key = false, packets = 2) => {
      for (let i = 0; i < packets; i++) {
        m.onPacket(vp8(seq++, ts, { start: i === 0, marker: i === packets - 1, key }), at);
      }
    };
    frame(3000, t); // a delta frame before any keyframe: nothing to decode it against
    expect(m.counters.frames).toBe(0);
    for (let i = 0; i < 30; i++) {
      t += 33;
      frame(6000 + i * 3000, t, i === 0);
    }
    expect(m.counters).toMatchObject({ frames: 30, keyframes: 1, freezes: 0 });
    expect(m.counters.firstFrameAt).toBe(33);
    // Half a second without a frame: a freeze (3 × 33 ms and 33 + 150 ms are both shorter).
    t += 500;
    frame(200_000, t);
    expect(m.counters.freezes).toBe(1);
    expect(Math.round(m.counters.freezeMs)).toBe(500);
  });

  it('after a lost packet shows nothing until the next keyframe, and asks for one', () => {
    const m = new StreamMonitor('video', 1);
    let seq = 0;
    const send = (ts: number, at: number, key: boolean, drop = -1) => {
      for (let i = 0; i < 3; i++) {
        if (i !== drop) m.onPacket(vp8(seq, ts, { start: i === 0, marker: i === 2, key }), at);
        seq++;
      }
    };
    send(3000, 0, true);
    send(6000, 33, false, 1); // its middle packet never arrives
    expect(m.counters.frames).toBe(1);
    send(9000, 400, false); // the broken frame is given up: this delta cannot be decoded
    expect(m.wantsKeyframe).toBe(true);
    expect(m.counters.frames).toBe(1);
    send(12000, 433, true);
    expect(m.counters).toMatchObject({ frames: 2, keyframes: 2 });
    expect(m.wantsKeyframe).toBe(false);
  });
});

describe('media parsers', () => {
  it('reads RFC 7741 descriptors with and without extensions', () => {
    expect(parseVp8(Buffer.from([0x10, 0x00]))).toEqual({ start: true, keyframe: true });
    expect(parseVp8(Buffer.from([0x10, 0x01]))).toEqual({ start: true, keyframe: false });
    expect(parseVp8(Buffer.from([0x00, 0x00]))).toEqual({ start: false, keyframe: false });
    // X, I with a 15-bit picture id, L, T: four more bytes before the frame tag.
    expect(parseVp8(Buffer.from([0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x00]))).toEqual({
      start: true,
      keyframe: true,
    });
  });

  it('reads IVF frames and Ogg Opus packets (header pages skipped)', () => {
    const ivf = Buffer.alloc(32 + 12 + 3 + 12 + 2);
    ivf.write('DKIF', 0, 'ascii');
    ivf.writeUInt16LE(32, 6);
    ivf.writeUInt32LE(3, 32);
    Buffer.from([0x00, 0xaa, 0xbb]).copy(ivf, 44);
    ivf.writeUInt32LE(2, 47);
    Buffer.from([0x01, 0xcc]).copy(ivf, 59);
    expect(readIvf(ivf).map((f) => [f.data.length, f.keyframe])).toEqual([
      [3, true],
      [2, false],
    ]);
    const page = (segments: number[], body: Buffer) =>
      Buffer.concat([
        Buffer.from('OggS'),
        Buffer.alloc(22),
        Buffer.from([segments.length, ...segments]),
        body,
      ]);
    const ogg = Buffer.concat([
      page([8, 8], Buffer.alloc(16)), // OpusHead, OpusTags
      page([255, 10, 4], Buffer.alloc(269, 7)), // a 265-byte packet laced over two segments, then 4 bytes
    ]);
    expect(readOggOpus(ogg).map((p) => p.length)).toEqual([265, 4]);
  });
});

describe('FrameGaps: what a viewer saw of each publisher, whichever path carried it', () => {
  it('keeps only the long intervals, and merges two consumers of one publisher', () => {
    const gaps = new FrameGaps();
    const t0 = 1_000;
    for (let i = 0; i < 10; i++) gaps.frame('alice', t0 + i * 33);
    // A 400 ms stall, then the old path's last frames arrive late beside the new path's.
    gaps.frame('alice', t0 + 9 * 33 + 400);
    gaps.frame('alice', t0 + 9 * 33 + 390);
    gaps.frame('alice', t0 + 9 * 33 + 433);
    gaps.frame('bob', t0);
    const [alice, bob] = gaps.result();
    expect(alice!.frames).toBe(13);
    expect(alice!.gaps).toHaveLength(1);
    const [from, to] = alice!.gaps[0]!;
    expect(Math.round(to - from)).toBe(400);
    expect(alice!.lastFrameAt! - performance.timeOrigin).toBeCloseTo(t0 + 9 * 33 + 433, 0);
    expect(bob!.gaps).toEqual([]);
  });
});
