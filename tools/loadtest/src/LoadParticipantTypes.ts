import type { PublisherFrames } from './media/FrameGaps';

/** Which remote participants a load participant receives. */
export type SubscribePolicy =
  | { mode: 'all' }
  | { mode: 'none' }
  /** The first `count` other publishers announced, audio and video. */
  | { mode: 'count'; count: number }
  /**
   * A grid of `count` tiles: everyone's audio, everyone's video consumed but only the `count` most
   * recently joined publishers' video resumed; the others are paused on the SFU (setConsumerPreferences),
   * and swapped as people join and leave.
   */
  | { mode: 'last'; count: number };

export interface ParticipantSpec {
  url: string;
  token: string;
  roomId: string;
  identity: string;
  callIndex: number;
  publishVideo: boolean;
  publishAudio: boolean;
  /** Sends speech; otherwise its microphone sends silence as Opus DTX (a frame per 400 ms). */
  speaking: boolean;
  subscribe: SubscribePolicy;
  videoLayer: number;
}

export interface SubscriptionResult {
  publisherId: string;
  producerId: string;
  consumerId: string;
  kind: 'audio' | 'video';
  /** Paused by a last-N policy at the end of the run (a paused consumer carries nothing). */
  paused: boolean;
  packets: number;
  bytes: number;
  expected: number;
  lost: number;
  frames: number;
  keyframes: number;
  freezes: number;
  freezeMs: number;
  /** From the consume request to the first rendered frame (video) or first packet (audio). */
  firstMediaMs: number | undefined;
}

export interface ParticipantResult {
  identity: string;
  roomId: string;
  callIndex: number;
  participantId: string | undefined;
  nodeId: string | undefined;
  joined: boolean;
  /** Join request → join reply. */
  joinMs: number | undefined;
  /**
   * Join → first rendered video frame from any publisher, counted from when the call put this
   * participant on the SFU if that came later (the first two of a call wait in p2p for a third).
   */
  firstFrameMs: number | undefined;
  producerIds: string[];
  modes: string[];
  transitions: number;
  pathReadyReported: number;
  rehomes: number;
  /** Sessions resumed after the signaling connection dropped. */
  resumes: number;
  errors: Record<string, number>;
  /** Requests answered RATE_LIMITED and sent again later (not errors unless retries ran out). */
  rateLimitedRetries: number;
  /** Requests answered UNAVAILABLE and sent again (see SignalingConnection). */
  unavailableRetries: number;
  firstError: { code: string; message: string } | undefined;
  /** The first message seen for each error code. */
  errorMessages: Record<string, string>;
  /** When errors happened (epoch ms), the first 20 of each code: to tell which fault caused them. */
  errorLog: Array<{ code: string; at: number }>;
  /** Each publisher's video as this participant saw it, over every path (see FrameGaps). */
  video: PublisherFrames[];
  sent: { videoPackets: number; audioPackets: number; bytes: number; plis: number; nacked: number };
  subscriptions: SubscriptionResult[];
  unmatchedPackets: number;
  /** Seconds of media time this participant was on the SFU (for bitrates). */
  sfuSeconds: number;
}
