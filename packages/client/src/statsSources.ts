/** Something that reports WebRTC stats: a receiver, a peer connection, a mediasoup consumer. */
export type StatsSource = () => Promise<RTCStatsReport>;

/**
 * Shares one `getStats()` among callers within `ttlMs`: every remote track of a connection polls it
 * ~10 times a second, and a 50-participant SFU transport would otherwise be asked ~1000 times a second.
 */
export function sharedStats(source: StatsSource, ttlMs = 50): StatsSource {
  let last: { at: number; report: Promise<RTCStatsReport> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > ttlMs) {
      const report = source();
      last = { at: now, report };
      // A failed report must not be served to the next callers.
      report.catch(() => {
        if (last?.report === report) last = undefined;
      });
    }
    return last.report;
  };
}

/**
 * Prefers the receiver-scoped report (cheap, exact) and falls back for good to the connection's
 * report once the receiver refuses: node-webrtc (wrtc) throws "Not yet implemented" for
 * `RTCRtpReceiver.getStats()`. The watcher then picks the inbound stream by track id.
 */
export function receiverStats(receiver: StatsSource, fallback: StatsSource): StatsSource {
  let useFallback = false;
  return async () => {
    if (!useFallback) {
      try {
        return await receiver();
      } catch {
        useFallback = true;
      }
    }
    return fallback();
  };
}
