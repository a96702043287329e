import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { iceServersFor } from '../../src/turn/iceServers';

const now = Date.UTC(2025, 0, 1, 12, 0, 0, 500);
const config = {
  stunUrls: ['stun:stun.example.com:3478'],
  turn: {
    urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'],
    secret: 'north',
    ttlSeconds: 86_400,
  },
};

/** The credential as coturn's docs compute it, by a tool that shares no code with ours. */
function opensslCredential(secret: string, username: string): string {
  const mac = execFileSync('openssl', ['dgst', '-sha1', '-hmac', secret, '-binary'], { input: username });
  return mac.toString('base64');
}

describe('iceServersFor', () => {
  it('hands out STUN as-is and TURN with REST API credentials', () => {
    const expiry = Math.floor(now / 1000) + 86_400;
    const servers = iceServersFor('alice', config, now);
    expect(servers).toEqual([
      { urls: ['stun:stun.example.com:3478'] },
      {
        urls: config.turn.urls,
        username: `${expiry}:alice`,
        credential: opensslCredential('north', `${expiry}:alice`),
      },
    ]);
  });

  it('matches a fixed vector', () => {
    // 1735776000 = 2025-01-02T00:00:00Z; computed once with openssl dgst -sha1 -hmac north -binary | base64.
    const [, turn] = iceServersFor('alice', { ...config, turn: { ...config.turn, ttlSeconds: 43_200 } }, now);
    expect(turn?.username).toBe('1735776000:alice');
    expect(turn?.credential).toBe('d3uA4zwVFkPpGU1hYa48FRe9njE=');
  });

  it('gives a different credential per identity and per expiry', () => {
    const a = iceServersFor('alice', config, now)[1];
    const b = iceServersFor('bob', config, now)[1];
    const later = iceServersFor('alice', config, now + 1000)[1];
    expect(a?.credential).not.toBe(b?.credential);
    expect(a?.credential).not.toBe(later?.credential);
  });

  it('leaves TURN out without a secret or URLs, and STUN out when none is configured', () => {
    expect(
      iceServersFor('alice', { ...config, turn: { urls: config.turn.urls, ttlSeconds: 60 } }, now),
    ).toEqual([{ urls: ['stun:stun.example.com:3478'] }]);
    expect(iceServersFor('alice', { stunUrls: [], turn: { ...config.turn, urls: [] } }, now)).toEqual([]);
  });

  it('does not share its arrays with the config', () => {
    const [stun] = iceServersFor('alice', config, now);
    (stun!.urls as string[]).push('stun:evil.example.com');
    expect(config.stunUrls).toHaveLength(1);
  });
});
