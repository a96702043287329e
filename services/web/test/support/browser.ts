import { type Browser, chromium, type Page } from 'playwright-core';

// Headless, and a fresh profile per launch: playwright's own.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream=fps=30',
  '--autoplay-policy=no-user-gesture-required',
  // Pages in one browser must not be throttled as background tabs: each one is a participant.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

/** Headless Debian Chromium with fake devices; `audioFile` replaces the fake microphone's beep. */
export async function launchChromium(opts: { audioFile?: string } = {}): Promise<TestBrowser> {
  const args = [...FLAGS];
  if (opts.audioFile) args.push(`--use-file-for-fake-audio-capture=${opts.audioFile}`);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args,
    timeout: 30_000,
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/** Opens the call page for `name` in `room` and waits until its call has joined. */
export async function joinCall(
  browser: Browser,
  webUrl: string,
  roomId: string,
  name: string,
  opts: { height?: number; viewport?: { width: number; height: number }; codec?: 'av1' } = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 960, height: 600 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  if (process.env.TRELLIS_TEST_CONSOLE)
    page.on('console', (m) => console.log(`[${name}] ${m.type()} ${m.text()}`));
  const query = new URLSearchParams({ name, debug: '1', height: String(opts.height ?? 360) });
  if (opts.codec) query.set('codec', opts.codec);
  await page.goto(`${webUrl}/call/${roomId}?${query}`);
  await page
    .waitForFunction(
      () => (window as unknown as { trellisCall?: { state: string } }).trellisCall?.state === 'joined',
      undefined,
      { timeout: 30_000 },
    )
    .catch(async (error: Error) => {
      const alert = await page
        .locator('[role=alert]')
        .textContent()
        .catch(() => null);
      throw new Error(
        `${name} did not join: ${error.message} (${alert ?? 'no alert'}; ${errors.join('; ')})`,
      );
    });
  return page;
}

/**
 * Joins through the lobby as a user would: waits for the camera preview, picks the first camera and
 * microphone the browser lists, types name and room, presses Join.
 */
export async function joinViaLobby(
  browser: Browser,
  webUrl: string,
  roomId: string,
  name: string,
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 960, height: 600 } });
  const page = await context.newPage();
  await page.goto(`${webUrl}/?debug=1&height=360`);
  await page.waitForFunction(
    () => ((document.querySelector('[data-testid=preview]') as HTMLVideoElement | null)?.videoWidth ?? 0) > 0,
    undefined,
    { timeout: 30_000 },
  );
  for (const label of ['Camera', 'Microphone']) {
    const options = page.getByLabel(label).locator('option');
    // Device labels (and so the list) appear once the preview was granted.
    await waitForCount(() => options.count(), 2);
    const value = await options.nth(1).getAttribute('value');
    await page.getByLabel(label).selectOption(value ?? '');
  }
  await page.getByLabel('Display name').fill(name);
  await page.getByLabel('Room').fill(roomId);
  await page.getByRole('button', { name: 'Join' }).click();
  await page.waitForURL(/\/call\//, { timeout: 10_000 });
  await page.waitForFunction(
    () => (window as unknown as { trellisCall?: { state: string } }).trellisCall?.state === 'joined',
    undefined,
    { timeout: 30_000 },
  );
  return page;
}

async function waitForCount(
  count: () => Promise<number>,
  atLeast: number,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await count()) < atLeast) {
    if (Date.now() > deadline) throw new Error(`fewer than ${atLeast} options after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The participant id a page joined as. */
export function participantIdOf(page: Page): Promise<string> {
  return page.evaluate(
    () => (window as unknown as { trellisCall: { participantId: string } }).trellisCall.participantId,
  );
}

export function modeOf(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as { trellisCall: { mode: string } }).trellisCall.mode);
}

export async function waitForMode(page: Page, mode: string, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    (m) => (window as unknown as { trellisCall: { mode: string } }).trellisCall.mode === m,
    mode,
    { timeout: timeoutMs, polling: 100 },
  );
}

type ShareWindow = {
  trellisCall: {
    startScreenShare(track: MediaStreamTrack): Promise<void>;
    stopScreenShare(): Promise<void>;
  };
  testScreen?: { track: MediaStreamTrack; timer: ReturnType<typeof setInterval> };
};

/**
 * Shares a 640x360 animated canvas as the page's screen (what `getDisplayMedia` would give; a
 * headless browser has no screen to pick) through the SDK, as the Share screen button does.
 */
export async function startCanvasShare(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const w = window as unknown as ShareWindow;
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 360;
    const g = canvas.getContext('2d') as CanvasRenderingContext2D;
    let n = 0;
    const timer = setInterval(() => {
      n++;
      g.fillStyle = `hsl(${(n * 7) % 360} 60% 40%)`;
      g.fillRect(0, 0, 640, 360);
      g.fillStyle = '#fff';
      g.font = '48px sans-serif';
      g.fillText(`slide ${n}`, 40, 200);
    }, 66);
    const track = canvas.captureStream(15).getVideoTracks()[0] as MediaStreamTrack;
    w.testScreen = { track, timer };
    await w.trellisCall.startScreenShare(track);
  });
}

export async function stopCanvasShare(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const w = window as unknown as ShareWindow;
    await w.trellisCall.stopScreenShare();
    if (w.testScreen) {
      clearInterval(w.testScreen.timer);
      w.testScreen.track.stop();
    }
  });
}

/** Width of the picture `page` shows in `participantId`'s screen-share tile (0: none or not playing). */
export function screenTileWidth(page: Page, participantId: string): Promise<number> {
  return page.evaluate((id) => {
    const video = document.querySelector<HTMLVideoElement>(
      `[data-testid=tile][data-screen=true][data-participant="${id}"] video`,
    );
    return video && video.readyState >= 2 ? video.videoWidth : 0;
  }, participantId);
}

/**
 * What a page decodes of a participant's camera, from the receiver's own stats: the codec of its
 * inbound-rtp stream (`video/AV1`, `video/VP8`) and the frames decoded so far.
 */
export function receivedVideo(
  page: Page,
  participantId: string,
): Promise<{ mimeType: string; framesDecoded: number } | undefined> {
  return page.evaluate(async (id) => {
    type Probe = {
      trellisCall: { remoteTrackStats(p: string, k: string): Promise<RTCStatsReport | undefined> };
    };
    const report = await (window as unknown as Probe).trellisCall.remoteTrackStats(id, 'video');
    if (!report) return { mimeType: 'no-report', framesDecoded: 0 };
    const all = new Map<string, Record<string, unknown>>();
    report.forEach((s: Record<string, unknown>) => {
      all.set(String(s.id), s);
    });
    const inbound = [...all.values()].find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
    if (!inbound)
      return {
        mimeType: `no-inbound:${[...all.values()].map((s) => `${s.type}/${s.kind}`).join(',')}`,
        framesDecoded: 0,
      };
    return {
      mimeType: String(all.get(String(inbound.codecId))?.mimeType ?? 'unknown'),
      framesDecoded: Number(inbound.framesDecoded ?? 0),
    };
  }, participantId);
}
