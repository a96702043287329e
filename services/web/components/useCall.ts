'use client';

import {
  type ConnectionQualityEvent,
  TrellisCall,
  type TrellisClientError,
  type VideoCodecPreference,
} from '@trellis/client';
import type { Api } from '@trellis/protocol';
import { useEffect, useReducer, useRef, useState } from 'react';

export interface CallOptions {
  roomId: string;
  name: string;
  cameraId: string | undefined;
  microphoneId: string | undefined;
  signalingUrls: string[];
  debug: boolean;
  /** Camera capture height (default 720; three simulcast layers at 720, two at 360). */
  videoHeight: number;
  /** The codec to publish on the SFU (AV1 falls back to VP8 where this browser can't encode it). */
  videoCodec: VideoCodecPreference;
}

export interface CallSnapshot {
  call: TrellisCall | undefined;
  localStream: MediaStream | undefined;
  selfId: string | undefined;
  participants: Api.ParticipantInfo[];
  mode: Api.CallMode;
  activeSpeaker: string | undefined;
  /** Remote participants whose screen share is showing. */
  screens: string[];
  quality: ConnectionQualityEvent | undefined;
  status: 'starting' | 'joined' | 'reconnecting' | 'closed';
  error: string | undefined;
}

/**
 * Joins the room on mount (camera + microphone, a token from the app's token route) and mirrors the
 * call's events into React state; leaves and stops the devices on unmount.
 */
export function useCall(options: CallOptions): CallSnapshot & { setLocalStream: (s: MediaStream) => void } {
  const [call, setCall] = useState<TrellisCall>();
  const [localStream, setLocalStream] = useState<MediaStream>();
  const [status, setStatus] = useState<CallSnapshot['status']>('starting');
  const [error, setError] = useState<string>();
  const [quality, setQuality] = useState<ConnectionQualityEvent>();
  const [activeSpeaker, setActiveSpeaker] = useState<string>();
  const [screens, setScreens] = useState<string[]>([]);
  // The call object holds the truth (participants, mode); events only ask React to re-read it.
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const optionsRef = useRef(options);

  useEffect(() => {
    const o = optionsRef.current;
    let closed = false;
    let current: TrellisCall | undefined;
    let media: MediaStream | undefined;
    const start = async () => {
      media = await navigator.mediaDevices.getUserMedia({
        video: {
          ...(o.cameraId ? { deviceId: { exact: o.cameraId } } : {}),
          height: { ideal: o.videoHeight },
          aspectRatio: { ideal: 16 / 9 },
        },
        audio: o.microphoneId ? { deviceId: { exact: o.microphoneId } } : true,
      });
      if (closed) return;
      setLocalStream(media);
      const tokenReply = await fetch('/api/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ roomId: o.roomId, name: o.name }),
      });
      const body = (await tokenReply.json()) as { token?: string; error?: string };
      if (!body.token) throw new Error(body.error ?? `token route answered ${tokenReply.status}`);
      if (closed) return;
      // One identity for the whole call: a reconnection resumes the same participant.
      const token = body.token;
      const trellis = new TrellisCall({
        url: o.signalingUrls,
        token: () => token,
        roomId: o.roomId,
        localTracks: media.getTracks(),
        videoCodec: o.videoCodec,
      });
      current = trellis;
      for (const event of [
        'participant-joined',
        'participant-left',
        'participant-updated',
        'participant-connection',
        'mode-changed',
        'remote-track',
        'remote-track-ended',
      ] as const) {
        trellis.on(event, rerender);
      }
      trellis.on('active-speaker', (e) => setActiveSpeaker(e.participantId));
      trellis.on('remote-track', (e) => {
        if (e.screen) setScreens((s) => (s.includes(e.participantId) ? s : [...s, e.participantId]));
      });
      trellis.on('remote-track-ended', (e) => {
        if (e.screen) setScreens((s) => s.filter((id) => id !== e.participantId));
      });
      trellis.on('participant-left', (e) => setScreens((s) => s.filter((id) => id !== e.participantId)));
      trellis.on('connection-quality', setQuality);
      trellis.on('reconnecting', () => setStatus('reconnecting'));
      trellis.on('reconnected', () => setStatus('joined'));
      trellis.on('error', (e: TrellisClientError) => setError(`${e.code}: ${e.message}`));
      trellis.on('closed', ({ reason }) => {
        setStatus('closed');
        if (reason !== 'left') setError((previous) => previous ?? `The call ended (${reason})`);
      });
      if (o.debug) (window as unknown as { trellisCall?: TrellisCall }).trellisCall = trellis;
      setCall(trellis);
      await trellis.join();
      if (!closed) setStatus('joined');
    };
    start().catch((e: unknown) => {
      if (!closed) setError(String(e instanceof Error ? e.message : e));
    });
    return () => {
      closed = true;
      void current?.leave();
      for (const t of media?.getTracks() ?? []) t.stop();
    };
  }, []);

  return {
    call,
    localStream,
    setLocalStream,
    selfId: call?.participantId,
    participants: call?.participants ?? [],
    mode: call?.mode ?? 'idle',
    activeSpeaker,
    screens,
    quality,
    status,
    error,
  };
}
