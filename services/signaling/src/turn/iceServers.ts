import { createHmac } from 'node:crypto';
import type { SignalingConfig } from '@trellis/config';
import type { Api } from '@trellis/protocol';

/**
 * The ICE servers a joining participant gets. TURN credentials follow the TURN REST API that
 * coturn checks with `use-auth-secret`: the username is `<expiry unix seconds>:<identity>` and the
 * password its HMAC-SHA1 under the shared secret, so coturn needs no per-user state and a leaked
 * credential dies on its own.
 */
export function iceServersFor(
  identity: string,
  config: Pick<SignalingConfig, 'stunUrls' | 'turn'>,
  now: number = Date.now(),
): Api.IceServer[] {
  const servers: Api.IceServer[] = [];
  if (config.stunUrls.length > 0) servers.push({ urls: [...config.stunUrls] });
  const { urls, secret, ttlSeconds } = config.turn;
  if (urls.length > 0 && secret !== undefined) {
    const username = `${Math.floor(now / 1000) + ttlSeconds}:${identity}`;
    const credential = createHmac('sha1', secret).update(username).digest('base64');
    servers.push({ urls: [...urls], username, credential });
  }
  return servers;
}
