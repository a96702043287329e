/**
 * Where the web app finds signaling, read by the server at request time (not baked into the build):
 * `TRELLIS_SIGNALING_URLS` is a comma-separated list of signaling nodes the SDK fails over between.
 */
export function signalingUrls(): string[] {
  const raw = process.env.TRELLIS_SIGNALING_URLS ?? 'http://127.0.0.1:3000';
  return raw
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
}
