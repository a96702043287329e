// The subset of @roamhq/wrtc this package uses. The package's own typings re-export DOM globals
// (absent here: the workspace compiles without lib "dom") and leave `onframe`/`ondata` untyped,
// so the module is loaded untyped and viewed through these declarations instead.

export interface WrtcMediaStreamTrack {
  readonly id: string;
  readonly kind: 'audio' | 'video';
  readonly readyState: 'live' | 'ended';
  enabled: boolean;
  stop(): void;
}

/** An I420 frame: a full-size Y plane followed by quarter-size U and V planes. */
export interface I420Frame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface RTCVideoSource {
  createTrack(): WrtcMediaStreamTrack;
  onFrame(frame: I420Frame): void;
}

export interface RTCVideoFrameEvent {
  type: 'frame';
  frame: I420Frame & { rotation: number };
}

export interface RTCVideoSink {
  readonly stopped: boolean;
  onframe: ((event: RTCVideoFrameEvent) => void) | null;
  stop(): void;
}

export interface RTCAudioData {
  samples: Int16Array;
  sampleRate: number;
  bitsPerSample?: number;
  channelCount?: number;
  numberOfFrames?: number;
}

export interface RTCAudioSource {
  createTrack(): WrtcMediaStreamTrack;
  onData(data: RTCAudioData): void;
}

export interface RTCAudioSink {
  readonly stopped: boolean;
  ondata: ((data: Required<RTCAudioData> & { type: 'data' }) => void) | null;
  stop(): void;
}

export interface WrtcModule {
  RTCPeerConnection: unknown;
  RTCSessionDescription: unknown;
  RTCIceCandidate: unknown;
  MediaStream: unknown;
  MediaStreamTrack: unknown;
  nonstandard: {
    RTCVideoSource: new (init?: { isScreencast?: boolean }) => RTCVideoSource;
    RTCVideoSink: new (track: WrtcMediaStreamTrack) => RTCVideoSink;
    RTCAudioSource: new () => RTCAudioSource;
    RTCAudioSink: new (track: WrtcMediaStreamTrack) => RTCAudioSink;
  };
}
