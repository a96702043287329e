'use client';

import { useCallback, useEffect, useState } from 'react';

/** The cameras and microphones the browser lists, kept current as devices come and go. */
export function useDevices(): {
  cameras: MediaDeviceInfo[];
  microphones: MediaDeviceInfo[];
  refresh: () => Promise<void>;
} {
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const refresh = useCallback(async () => {
    setDevices(await navigator.mediaDevices.enumerateDevices());
  }, []);
  useEffect(() => {
    void refresh();
    navigator.mediaDevices.addEventListener('devicechange', refresh);
    return () => navigator.mediaDevices.removeEventListener('devicechange', refresh);
  }, [refresh]);
  return {
    cameras: devices.filter((d) => d.kind === 'videoinput'),
    microphones: devices.filter((d) => d.kind === 'audioinput'),
    refresh,
  };
}
