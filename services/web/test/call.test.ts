import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../../signaling/test/support/stack';
import {
  joinCall,
  joinViaLobby,
  launchChromium,
  participantIdOf,
  receivedVideo,
  screenTileWidth,
  startCanvasShare,
  stopCanvasShare,
  type TestBrowser,
  waitForMode,
} from './support/browser';
import { frameSummary, installFrameMonitor, pageNow, waitForFramesOn } from './support/frameMonitor';
import { buildWebApp, freePort, startWebApp, type WebApp, webDir } from './support/webApp';

/** Where the 4-participant screenshot is saved (gitignored: a test artifact, not a source). */
export const SCREENSHOT = join(webDir, 'test/artifacts/call-4.png');
const MAX_SWITCH_GAP_MS = 1_000;

type CallProbe = {
  trellisCall: {
    stats(): { sfu?: unknown; p2p?: { connectionState: string } };
    p2pStats(): Promise<RTCStatsReport | undefined>;
  };
};

/** Transports an sfu process holds, from its own metrics: a 1:1 call must hold none. */
async function sfuTransports(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('trellis_sfu_transports{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** The P2P connection's selected candidate pair as `ip:port` of each end, read from getStats(). */
async function selectedPair(
  page: Page,
): Promise<{ local: string; remote: string; state: string } | undefined> {
  return page.evaluate(async () => {
    const report = await (window as unknown as CallProbe).trellisCall.p2pStats();
    if (!report) return undefined;
    const all = new Map<string, Record<string, unknown>>();
    report.forEach((s: Record<string, unknown>) => {
      all.set(String(s.id), s);
    });
    const transport = [...all.values()].find((s) => s.type === 'transport');
    const pair = all.get(String(transport?.selectedCandidatePairId));
    if (!pair) return undefined;
    const end = (id: unknown) => {
      const c = all.get(String(id));
      return `${String(c?.address ?? c?.ip)}:${String(c?.port)}`;
    };
    return {
      local: end(pair.localCandidateId),
      remote: end(pair.remoteCandidateId),
      state: String(pair.state),
    };
  });
}

/** A speech-like tone (3 Hz tremolo) at `gainDb`, for a Chromium fake microphone. */
function toneFile(dir: string, name: string, gainDb: number): string {
  const file = join(dir, name);
  execFileSync('ffmpeg', [
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=330:sample_rate=48000:duration=20',
    '-af',
    `tremolo=f=3:d=0.9,volume=${gainDb}dB`,
    '-ac',
    '1',
    file,
  ]);
  return file;
}

describe('the web app in headless Chromium: P2P ↔ SFU without a visible switch', () => {
  let stack: Stack;
  let signaling: InProcessSignaling;
  let web: WebApp;
  let chromium: TestBrowser;
  const pages: Page[] = [];
  const report: Record<string, unknown> = {};
  let metricsPort: number;

  beforeAll(async () => {
    const build = await buildWebApp();
    report.next_build = build;
    const port = await freePort();
    stack = await startStack({ sfuNodes: 1 });
    metricsPort = stack.sfus[0]?.metricsPort ?? 0;
    signaling = await startSignaling(stack.redis.url, { CORS_ORIGINS: `http://127.0.0.1:${port}` });
    web = await startWebApp(port, [signaling.url]);
    chromium = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(pages.map((p) => p.context().close()));
    await chromium?.close();
    await web?.close();
    await signaling?.close();
    await stack?.close();
    console.log(`web switch report ${JSON.stringify(report)}`);
  });

  const roomId = uid('web');
  let alice: Page;
  let bob: Page;
  let carol: Page;
  const ids = { alice: '', bob: '', carol: '' };

  it('two pages talk peer to peer: a direct candidate pair, no SFU transport, frames both ways', async () => {
    // Alice comes through the lobby (preview, device choice); the others open the call page directly.
    alice = await joinViaLobby(chromium.browser, web.url, roomId, 'Alice');
    expect(new URL(alice.url()).searchParams.get('camera')).toBeTruthy();
    pages.push(alice);
    bob = await joinCall(chromium.browser, web.url, roomId, 'Bob');
    pages.push(bob);
    ids.alice = await participantIdOf(alice);
    ids.bob = await participantIdOf(bob);
    await waitForMode(alice, 'p2p');
    await waitForMode(bob, 'p2p');
    for (const page of [alice, bob]) await installFrameMonitor(page);
    await waitForFramesOn(alice, [ids.bob], 'p2p', 30);
    await waitForFramesOn(bob, [ids.alice], 'p2p', 30);

    const a = await selectedPair(alice);
    const b = await selectedPair(bob);
    expect(a?.state).toBe('succeeded');
    // Each side's remote end is the other browser's local end: media goes browser to browser.
    expect(a?.remote).toBe(b?.local);
    expect(b?.remote).toBe(a?.local);
    for (const page of [alice, bob]) {
      const stats = await page.evaluate(() => (window as unknown as CallProbe).trellisCall.stats());
      expect(stats.sfu).toBeUndefined();
      expect(stats.p2p?.connectionState).toBe('connected');
    }
    expect(await sfuTransports(metricsPort)).toBe(0);
    expect(await alice.getByTestId('mode').textContent()).toBe('Peer to peer');

    // A screen share on P2P: a second tile on the other page, beside the camera, until it stops.
    await startCanvasShare(bob);
    await expect.poll(() => screenTileWidth(alice, ids.bob), { timeout: 20_000 }).toBe(640);
    expect(await alice.getByTestId('tile').count()).toBe(3);
    await stopCanvasShare(bob);
    await expect.poll(() => alice.locator('[data-screen=true]').count(), { timeout: 10_000 }).toBe(0);
  }, 120_000);

  it('a third page moves all three to the SFU; every page decodes every other; gaps stay under 1 s', async () => {
    const marks = [await pageNow(alice), await pageNow(bob)] as const;
    carol = await joinCall(chromium.browser, web.url, roomId, 'Carol');
    pages.push(carol);
    ids.carol = await participantIdOf(carol);
    await installFrameMonitor(carol);
    for (const page of [alice, bob, carol]) await waitForMode(page, 'sfu', 45_000);
    await waitForFramesOn(alice, [ids.bob, ids.carol], 'sfu', 30);
    await waitForFramesOn(bob, [ids.alice, ids.carol], 'sfu', 30);
    await waitForFramesOn(carol, [ids.alice, ids.bob], 'sfu', 30);
    const aliceSees = await frameSummary(alice, marks[0]);
    const bobSees = await frameSummary(bob, marks[1]);
    const gaps = {
      alice_sees_bob: aliceSees[ids.bob],
      bob_sees_alice: bobSees[ids.alice],
    };
    report.p2p_to_sfu = gaps;
    for (const view of Object.values(gaps)) {
      expect(view?.switches).toBeGreaterThanOrEqual(1);
      expect(view?.ended).toBe(0);
      expect(view?.longestGapMs).toBeLessThan(MAX_SWITCH_GAP_MS);
    }
    expect(await sfuTransports(metricsPort)).toBe(6);
    expect(await alice.getByTestId('tile').count()).toBe(3);

    // A screen share on the SFU: its own producer, a tile on both other pages, gone when it stops.
    await startCanvasShare(carol);
    for (const page of [alice, bob]) {
      await expect.poll(() => screenTileWidth(page, ids.carol), { timeout: 20_000 }).toBe(640);
    }
    await stopCanvasShare(carol);
    for (const page of [alice, bob]) {
      await expect.poll(() => page.locator('[data-screen=true]').count(), { timeout: 10_000 }).toBe(0);
    }
  }, 150_000);

  it('the third leaves: back to P2P after the hysteresis, again without a gap over 1 s', async () => {
    const marks = [await pageNow(alice), await pageNow(bob)] as const;
    await carol.getByTestId('leave').click();
    for (const page of [alice, bob]) await waitForMode(page, 'p2p', 45_000);
    await waitForFramesOn(alice, [ids.bob], 'p2p', 30);
    await waitForFramesOn(bob, [ids.alice], 'p2p', 30);
    const gaps = {
      alice_sees_bob: (await frameSummary(alice, marks[0]))[ids.bob],
      bob_sees_alice: (await frameSummary(bob, marks[1]))[ids.alice],
    };
    report.sfu_to_p2p = gaps;
    for (const view of Object.values(gaps)) {
      expect(view?.switches).toBeGreaterThanOrEqual(1);
      expect(view?.ended).toBe(0);
      expect(view?.longestGapMs).toBeLessThan(MAX_SWITCH_GAP_MS);
    }
    await expect.poll(() => sfuTransports(metricsPort), { timeout: 10_000 }).toBe(0);
    expect(await alice.getByTestId('tile').count()).toBe(2);
  }, 120_000);

  it('AV1: pages that ask for it publish AV1 through the SFU and every page decodes it; a VP8 page in the same call', async () => {
    const room = uid('av1');
    const av1a = await joinCall(chromium.browser, web.url, room, 'Ada', { codec: 'av1' });
    const av1b = await joinCall(chromium.browser, web.url, room, 'Abe', { codec: 'av1' });
    const vp8 = await joinCall(chromium.browser, web.url, room, 'Vic');
    const trio = [av1a, av1b, vp8];
    pages.push(...trio);
    try {
      const id = new Map<Page, string>();
      for (const page of trio) id.set(page, await participantIdOf(page));
      for (const page of trio) await waitForMode(page, 'sfu', 45_000);
      const seen: Record<string, string> = {};
      for (const viewer of trio) {
        for (const sender of trio) {
          if (sender === viewer) continue;
          const want = sender === vp8 ? 'video/VP8' : 'video/AV1';
          // The SFU path's track is exposed once it decodes; the codec is the publisher's choice.
          await expect
            .poll(
              async () => {
                const got = await receivedVideo(viewer, id.get(sender) ?? '');
                return got && got.framesDecoded >= 30
                  ? got.mimeType
                  : `${got?.mimeType}:${got?.framesDecoded}`;
              },
              { timeout: 30_000 },
            )
            .toBe(want);
          seen[`${id.get(viewer)}<-${id.get(sender)}`] = want;
        }
      }
      report.av1 = seen;
    } finally {
      await Promise.allSettled(trio.map((p) => p.context().close()));
      pages.splice(pages.length - trio.length, trio.length);
    }
  }, 150_000);

  it('six pages: six tiles, the loudest page is highlighted, a mute shows on the others (screenshot at four)', async () => {
    await Promise.allSettled([alice, bob, carol].map((p) => p?.context().close()));
    pages.length = 0;
    const dir = mkdtempSync(join(tmpdir(), 'trellis-audio-'));
    const loudBrowser = await launchChromium({ audioFile: toneFile(dir, 'loud.wav', 0) });
    const quietBrowser = await launchChromium({ audioFile: toneFile(dir, 'quiet.wav', -45) });
    try {
      const room = uid('six');
      const names = ['Loud', 'Quiet 1', 'Quiet 2', 'Quiet 3', 'Quiet 4', 'Quiet 5'];
      const six: Page[] = [];
      const expectTiles = async (count: number) => {
        for (const page of six) {
          await expect.poll(() => page.getByTestId('tile').count(), { timeout: 30_000 }).toBe(count);
        }
      };
      /** Every remote tile on every page plays video (the element decoded a picture). */
      const expectPlaying = async () => {
        for (const page of six) {
          await expect
            .poll(
              () =>
                page.evaluate(() =>
                  [
                    ...document.querySelectorAll<HTMLElement>('[data-testid=tile][data-local=false] video'),
                  ].every(
                    (v) => (v as HTMLVideoElement).videoWidth > 0 && (v as HTMLVideoElement).readyState >= 2,
                  ),
                ),
              { timeout: 30_000 },
            )
            .toBe(true);
        }
      };
      for (const [i, name] of names.slice(0, 4).entries()) {
        six.push(await joinCall(i === 0 ? loudBrowser.browser : quietBrowser.browser, web.url, room, name));
      }
      pages.push(...six);
      for (const page of six) await waitForMode(page, 'sfu', 45_000);
      await expectTiles(4);
      await expectPlaying();
      // Media flows to every page, so the quality indicator must say so (not "lost" or "measuring").
      for (const page of six) {
        await expect
          .poll(() => page.getByTestId('quality').textContent(), { timeout: 15_000 })
          .toMatch(/excellent|good/);
      }
      mkdirSync(join(webDir, 'test/artifacts'), { recursive: true });
      await six[1]?.screenshot({ path: SCREENSHOT });

      for (const name of names.slice(4)) six.push(await joinCall(quietBrowser.browser, web.url, room, name));
      pages.push(...six.slice(4));
      for (const page of six) await waitForMode(page, 'sfu', 45_000);
      await expectTiles(6);
      await expectPlaying();

      const loudId = await participantIdOf(six[0] as Page);
      for (const page of six) {
        await expect
          .poll(
            () => page.locator('[data-testid=tile][data-speaking=true]').getAttribute('data-participant'),
            {
              timeout: 30_000,
            },
          )
          .toBe(loudId);
      }

      const muter = six[2] as Page;
      const muterId = await participantIdOf(muter);
      await muter.getByTestId('toggle-audio').click();
      for (const page of six) {
        if (page === muter) continue;
        await expect
          .poll(() => page.locator(`[data-participant="${muterId}"]`).getAttribute('data-audio-muted'), {
            timeout: 15_000,
          })
          .toBe('true');
      }
      report.six = { speaker: loudId, muted: muterId };
    } finally {
      await loudBrowser.close();
      await quietBrowser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
  it('the token route refuses bad input with a typed error, and /metrics counts token requests', async () => {
    const ask = (body: string) =>
      fetch(`${web.url}/api/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    for (const body of ['{', '{"roomId":"a b","name":"x"}', '{"roomId":"ok","name":"   "}']) {
      const reply = await ask(body);
      expect(reply.status).toBe(400);
      expect(((await reply.json()) as { code: string }).code).toBe('VALIDATION_FAILED');
    }
    expect((await ask(JSON.stringify({ roomId: uid('m'), name: 'Metrics' }))).status).toBe(200);
    const scrape = await (await fetch(`${web.url}/metrics`)).text();
    const count = (outcome: string) =>
      Number(
        scrape.match(
          new RegExp(`trellis_web_token_requests_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`),
        )?.[1],
      );
    expect(count('bad_request')).toBe(3);
    // Every page of the earlier tests fetched a token through this route too.
    expect(count('ok')).toBeGreaterThan(1);
    expect(scrape).toMatch(/^process_cpu_user_seconds_total\{/m);
  });
});
