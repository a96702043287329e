'use client';

import type { TrellisCall } from '@trellis/client';
import { useState } from 'react';
import { useDevices } from './useDevices';

export interface ControlsProps {
  call: TrellisCall;
  localStream: MediaStream | undefined;
  onLocalStream: (stream: MediaStream) => void;
  onLeave: () => void;
}

/**
 * Mute, camera, screen share, device switch and leave. A device switch replaces the outgoing track
 * on the current path (and the other, mid-switch): receivers keep their tracks and see new frames.
 * A screen share is a second video beside the camera.
 */
export function Controls({ call, localStream, onLocalStream, onLeave }: ControlsProps) {
  const [muted, setMuted] = useState(call.muted);
  const [sharing, setSharing] = useState<MediaStreamTrack>();
  const [busy, setBusy] = useState(false);
  const { cameras, microphones } = useDevices();

  const toggle = async (kind: 'audio' | 'video') => {
    setBusy(true);
    try {
      await call.setMuted(kind, !call.muted[kind]);
      setMuted(call.muted);
    } finally {
      setBusy(false);
    }
  };

  const stopSharing = async (screen: MediaStreamTrack) => {
    screen.stop();
    setSharing(undefined);
    await call.stopScreenShare();
  };

  const share = async () => {
    if (sharing) {
      await stopSharing(sharing);
      return;
    }
    const display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const screen = display.getVideoTracks()[0];
    if (!screen) return;
    screen.addEventListener('ended', () => void stopSharing(screen));
    setSharing(screen);
    await call.startScreenShare(screen);
  };

  const switchDevice = async (kind: 'audio' | 'video', deviceId: string) => {
    const fresh = await navigator.mediaDevices.getUserMedia(
      kind === 'video'
        ? { video: { deviceId: { exact: deviceId } } }
        : { audio: { deviceId: { exact: deviceId } } },
    );
    const track = kind === 'video' ? fresh.getVideoTracks()[0] : fresh.getAudioTracks()[0];
    if (!track) return;
    const old = kind === 'video' ? localStream?.getVideoTracks()[0] : localStream?.getAudioTracks()[0];
    await call.replaceTrack(kind, track);
    old?.stop();
    const other =
      kind === 'video' ? (localStream?.getAudioTracks() ?? []) : (localStream?.getVideoTracks() ?? []);
    onLocalStream(new MediaStream([...other, track]));
  };

  return (
    <nav className="controls" aria-label="Call controls">
      <button
        type="button"
        data-testid="toggle-audio"
        aria-pressed={muted.audio}
        disabled={busy}
        onClick={() => void toggle('audio')}
      >
        {muted.audio ? 'Unmute' : 'Mute'}
      </button>
      <button
        type="button"
        data-testid="toggle-video"
        aria-pressed={muted.video}
        disabled={busy}
        onClick={() => void toggle('video')}
      >
        {muted.video ? 'Start camera' : 'Stop camera'}
      </button>
      <button
        type="button"
        data-testid="toggle-screen"
        aria-pressed={sharing !== undefined}
        onClick={() => void share()}
      >
        {sharing ? 'Stop sharing' : 'Share screen'}
      </button>
      <select
        aria-label="Camera"
        onChange={(e) => void switchDevice('video', e.target.value)}
        defaultValue=""
      >
        <option value="" disabled>
          Camera…
        </option>
        {cameras.map((d) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || d.deviceId}
          </option>
        ))}
      </select>
      <select
        aria-label="Microphone"
        onChange={(e) => void switchDevice('audio', e.target.value)}
        defaultValue=""
      >
        <option value="" disabled>
          Microphone…
        </option>
        {microphones.map((d) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || d.deviceId}
          </option>
        ))}
      </select>
      <button type="button" className="leave" data-testid="leave" onClick={onLeave}>
        Leave
      </button>
    </nav>
  );
}
