// `trellis load`: reads the command line and wires the coordinator to the terminal. See README.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { runLoad } from './LoadRun';
import { summaryText } from './report';

const int = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('not an integer');
  return n;
};
const num = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('not a number');
  return n;
};

const program = new Command('trellis load')
  .description(
    'Put real-media participants (werift: VP8 simulcast + Opus) into calls against a Trellis cluster',
  )
  .requiredOption('--url <url>', 'signaling node, http(s)://host[:port]: the only host the tester talks to')
  .option(
    '--secret <secret>',
    'HS256 token secret (JWT_SECRET): mints one token per participant',
    process.env.JWT_SECRET,
  )
  .option('--token <jwt...>', 'ready-made tokens instead of --secret, one per participant (3+ per room)')
  .option('--issuer <iss>', 'token issuer', 'trellis')
  .option('--audience <aud>', 'token audience', 'trellis')
  .option('-c, --calls <n>', 'calls', int, 1)
  .option(
    '-p, --participants <n>',
    'participants per call (3-50; 1:1 calls are P2P, not load-tested)',
    int,
    5,
  )
  .option('--join-rate <n>', 'joins per second', num, 5)
  .option('-d, --duration <s>', 'seconds from the first join until everyone leaves', num, 30)
  .option('-w, --workers <n>', 'worker processes', int, availableParallelism())
  .option(
    '--subscribe <policy>',
    'all | none | N (the first N other publishers) | last-N (N video tiles: the latest joiners; all audio)',
    'all',
  )
  .option('--video-layer <n>', 'simulcast layer subscribed: 0=320x180, 1=640x360, 2=1280x720', int, 0)
  .option(
    '--speakers <n>',
    'participants per call whose audio is speech; the others send Opus DTX silence',
    int,
    2,
  )
  .option('--no-video', 'publish no video')
  .option('--no-audio', 'publish no audio')
  .option('--room-prefix <prefix>', 'room names are <prefix>-c<i>')
  .option('--grace <s>', 'seconds allowed for leaving after the duration', int, 15)
  .option('-o, --output <file>', 'also write the full JSON (every participant) to this file')
  .option('--quiet', 'no progress line')
  .addHelpText(
    'after',
    '\nPrints a summary on stderr and the JSON report on stdout.\nExample: ./trellis load --url http://127.0.0.1:3000 --calls 2 --participants 5 --duration 20',
  );

async function main(): Promise<void> {
  program.parse();
  const f = program.opts();
  if (f.token && f.secret === process.env.JWT_SECRET) f.secret = undefined;
  const abort = new AbortController();
  let interrupted = 0;
  process.on('SIGINT', () => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130);
    process.stderr.write('\nstopping: participants are leaving (Ctrl-C again to quit at once)\n');
    abort.abort();
  });
  const tty = process.stderr.isTTY;
  const report = await runLoad(
    {
      url: f.url,
      secret: f.secret,
      tokens: f.token,
      issuer: f.issuer,
      audience: f.audience,
      calls: f.calls,
      participants: f.participants,
      joinRate: f.joinRate,
      durationSeconds: f.duration,
      workers: f.workers,
      subscribe: f.subscribe,
      videoLayer: f.videoLayer,
      publishVideo: f.video,
      publishAudio: f.audio,
      speakers: f.speakers,
      graceSeconds: f.grace,
      ...(f.roomPrefix ? { roomPrefix: f.roomPrefix } : {}),
    },
    {
      log: (line) => process.stderr.write(`${line}\n`),
      progress: f.quiet ? undefined : (line) => process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`),
      signal: abort.signal,
    },
  );
  if (tty && !f.quiet) process.stderr.write('\n');
  const { participants, ...summary } = report;
  process.stderr.write(`${summaryText(report)}\n`);
  if (f.output) writeFileSync(f.output, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  void participants;
  const failed = report.joins.failed > 0 || report.subscriptions.withMedia < report.subscriptions.expected;
  process.exitCode = failed ? 1 : 0;
}

main().catch((error: unknown) => {
  if (error instanceof z.ZodError) {
    process.stderr.write(
      `trellis load: ${error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}\n`,
    );
    process.exit(2);
  }
  process.stderr.write(`trellis load: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
