import type { ExposedTrack, MediaKind } from './RemoteTrackSelectorTypes';

/**
 * One MediaStream per remote participant that outlives every path switch: when the selector exposes
 * another track for a kind, the old one is swapped out of the same stream. A renderer given the
 * stream once (`video.srcObject = stream`) keeps playing across P2P↔SFU switches.
 */
export class RemoteStreams {
  readonly #streams = new Map<string, MediaStream>();
  readonly #MediaStream: typeof MediaStream | undefined;

  constructor(MediaStreamImpl: typeof MediaStream | undefined = globalThis.MediaStream) {
    this.#MediaStream = MediaStreamImpl;
  }

  /**
   * The participant's stream (created empty on first ask), or its screen share's with `screen`;
   * undefined without MediaStream.
   */
  get(participantId: string, screen = false): MediaStream | undefined {
    const key = streamKey(participantId, screen);
    let stream = this.#streams.get(key);
    if (!stream && this.#MediaStream) {
      stream = new this.#MediaStream();
      this.#streams.set(key, stream);
    }
    return stream;
  }

  /** The selector exposed `exposed.track`: it becomes the stream's only track of its kind. */
  expose(exposed: ExposedTrack): MediaStream | undefined {
    const stream = this.get(exposed.participantId, exposed.screen);
    if (!stream) return undefined;
    const current = tracksOf(stream, exposed.kind);
    if (current.length === 1 && current[0] === exposed.track) return stream;
    // Add first, then remove: a renderer never sees the stream without a track of this kind.
    stream.addTrack(exposed.track);
    for (const track of current) if (track !== exposed.track) stream.removeTrack(track);
    return stream;
  }

  /** The participant's kind has no track any more. */
  end(participantId: string, kind: MediaKind, screen = false): void {
    const stream = this.#streams.get(streamKey(participantId, screen));
    if (!stream) return;
    for (const track of tracksOf(stream, kind)) stream.removeTrack(track);
  }

  remove(participantId: string): void {
    this.#streams.delete(streamKey(participantId, false));
    this.#streams.delete(streamKey(participantId, true));
  }

  clear(): void {
    this.#streams.clear();
  }
}

function streamKey(participantId: string, screen: boolean): string {
  return screen ? `${participantId}\u0000screen` : participantId;
}

function tracksOf(stream: MediaStream, kind: MediaKind): MediaStreamTrack[] {
  return kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
}
