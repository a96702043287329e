import { DEV_JWT_SECRET, type Env, loadConfig, signalingConfig } from '@trellis/config';
import { TrellisError } from '@trellis/protocol';
import { mintToken } from '@trellis/signaling/mintToken';
import { type Command, InvalidArgumentError } from 'commander';

export interface TokenOptions {
  room: string;
  identity: string;
  name?: string;
  admin: boolean;
  publish: boolean;
  subscribe: boolean;
  ttl: number;
  secret?: string;
}

const MAX_TTL_SECONDS = 365 * 86_400;

/**
 * Mints the token signaling would accept given the same environment: the secret, issuer and
 * audience come from JWT_SECRET / JWT_ISSUER / JWT_AUDIENCE through the signaling config schema,
 * so a secret too short or the dev secret under NODE_ENV=production is refused here as well.
 * Only those variables are read: an unrelated bad one (a Redis URL) must not stop a token.
 */
export async function createToken(
  opts: TokenOptions,
  env: Env = process.env,
): Promise<{ token: string; usingDevSecret: boolean }> {
  const jwtEnv: Env = {
    NODE_ENV: env.NODE_ENV,
    JWT_SECRET: opts.secret ?? env.JWT_SECRET,
    JWT_ISSUER: env.JWT_ISSUER,
    JWT_AUDIENCE: env.JWT_AUDIENCE,
  };
  const { jwt } = loadConfig(signalingConfig, jwtEnv);
  const token = await mintToken({
    secret: jwt.secret,
    issuer: jwt.issuer,
    audience: jwt.audience,
    identity: opts.identity,
    ...(opts.name === undefined ? {} : { name: opts.name }),
    grant: { room: opts.room, canPublish: opts.publish, canSubscribe: opts.subscribe, admin: opts.admin },
    ttlSeconds: opts.ttl,
  });
  return { token, usingDevSecret: jwt.secret === DEV_JWT_SECRET };
}

function parseTtl(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_TTL_SECONDS) {
    throw new InvalidArgumentError(`expected whole seconds between 1 and ${MAX_TTL_SECONDS}`);
  }
  return n;
}

/** `trellis token`: prints only the token on stdout, so `TOKEN=$(./trellis token ...)` works. */
export function registerTokenCommand(program: Command): Command {
  return program
    .command('token')
    .description('Mint a room token for local runs and tests (HS256, signed with JWT_SECRET)')
    .requiredOption('--room <roomId>', 'the room the token grants')
    .requiredOption('--identity <identity>', "the participant's identity in the room (the token's sub)")
    .option('--name <name>', 'display name')
    .option('--admin', 'room administration: create rooms ahead of time, remove participants', false)
    .option('--no-publish', 'may not publish media')
    .option('--no-subscribe', 'may not receive media')
    .option('--ttl <seconds>', 'lifetime in seconds', parseTtl, 3600)
    .option(
      '--secret <secret>',
      'HS256 secret (default: $JWT_SECRET, else the public development secret); visible in ps, prefer the env',
    )
    .action(async (opts: TokenOptions) => {
      try {
        const { token, usingDevSecret } = await createToken(opts);
        if (usingDevSecret) {
          process.stderr.write(
            'note: signed with the public development secret (set JWT_SECRET for real use)\n',
          );
        }
        process.stdout.write(`${token}\n`);
      } catch (error) {
        // A bad room or identity arrives as a ZodError; from() names the offending field.
        process.stderr.write(`error: ${TrellisError.from(error).message}\n`);
        process.exitCode = 1;
      }
    });
}
