'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useDevices } from './useDevices';

/** Name, room, a camera/microphone preview and the choice of devices, then the call page. */
export function Lobby() {
  const router = useRouter();
  const [name, setName] = useState('');
  const [room, setRoom] = useState('demo');
  const [cameraId, setCameraId] = useState('');
  const [microphoneId, setMicrophoneId] = useState('');
  const [codec, setCodec] = useState<'vp8' | 'av1'>('vp8');
  const [error, setError] = useState<string | undefined>();
  const preview = useRef<HTMLVideoElement>(null);
  const { cameras, microphones, refresh } = useDevices();

  useEffect(() => {
    let stream: MediaStream | undefined;
    let cancelled = false;
    navigator.mediaDevices
      .getUserMedia({
        video: cameraId ? { deviceId: { exact: cameraId } } : true,
        audio: microphoneId ? { deviceId: { exact: microphoneId } } : true,
      })
      .then((s) => {
        if (cancelled) {
          for (const t of s.getTracks()) t.stop();
          return;
        }
        stream = s;
        if (preview.current) preview.current.srcObject = s;
        setError(undefined);
        // Labels are only visible once access was granted.
        void refresh();
      })
      .catch((e: unknown) => setError(`Camera/microphone unavailable: ${String(e)}`));
    return () => {
      cancelled = true;
      for (const t of stream?.getTracks() ?? []) t.stop();
    };
  }, [cameraId, microphoneId, refresh]);

  const join = (event: FormEvent) => {
    event.preventDefault();
    const query = new URLSearchParams({ name: name.trim() || 'Guest' });
    if (cameraId) query.set('camera', cameraId);
    if (microphoneId) query.set('microphone', microphoneId);
    if (codec !== 'vp8') query.set('codec', codec);
    // Diagnostics options given to the lobby carry over to the call page.
    const own = new URLSearchParams(window.location.search);
    for (const key of ['debug', 'height']) {
      const value = own.get(key);
      if (value) query.set(key, value);
    }
    router.push(`/call/${encodeURIComponent(room)}?${query}`);
  };

  return (
    <main className="lobby">
      <h1>Trellis</h1>
      <form onSubmit={join} className="lobby-form">
        <video ref={preview} className="preview" autoPlay playsInline muted data-testid="preview" />
        <label>
          Display name
          <input
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="Your name"
            maxLength={64}
            required
          />
        </label>
        <label>
          Room
          <input
            name="room"
            value={room}
            onChange={(e) => setRoom(e.target.value)}
            pattern="[A-Za-z0-9._:\-]{1,128}"
            required
          />
        </label>
        <label>
          Camera
          <select name="camera" value={cameraId} onChange={(e) => setCameraId(e.target.value)}>
            <option value="">Default</option>
            {cameras.map((d) => (
              <option key={d.deviceId} value={d.deviceId}>
                {d.label || d.deviceId}
              </option>
            ))}
          </select>
        </label>
        <label>
          Microphone
          <select name="microphone" value={microphoneId} onChange={(e) => setMicrophoneId(e.target.value)}>
            <option value="">Default</option>
            {microphones.map((d) => (
              <option key={d.deviceId} value={d.deviceId}>
                {d.label || d.deviceId}
              </option>
            ))}
          </select>
        </label>
        <label>
          Video codec
          <select
            name="codec"
            value={codec}
            onChange={(e) => setCodec(e.target.value === 'av1' ? 'av1' : 'vp8')}
          >
            <option value="vp8">VP8 (lightest to encode)</option>
            <option value="av1">AV1 (sharper per bit, more CPU; VP8 where unsupported)</option>
          </select>
        </label>
        {error ? <p className="error">{error}</p> : null}
        <button type="submit">Join</button>
      </form>
    </main>
  );
}
