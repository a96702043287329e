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
  opts: { height?: number; viewport?: { width: number; height: number } } = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 960, height: 600 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  const query = new URLSearchParams({ name, debug: '1', height: String(opts.height ?? 360) });
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
