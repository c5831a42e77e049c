import { type Command, Option } from 'commander';
import { Webhook } from 'standardwebhooks';
import type { SignAqueductRequestOptions } from '../testing/sign-aqueduct-request';
import { CliError, ExitCode } from './cli-output';

/** The schemes `--scheme` (and `AQUEDUCT_VERIFICATION`) accept. */
const SCHEMES = ['standard-webhooks', 'hmac', 'shared-secret'] as const;

type Scheme = (typeof SCHEMES)[number];

/** The scheme when neither `--scheme` nor `AQUEDUCT_VERIFICATION` says. */
const DEFAULT_SCHEME: Scheme = 'shared-secret';

/**
 * What `send` and `simulate` accept to sign like the receiving app expects. `secret` and `scheme`
 * are unset when not given on the command line: `signingOptions` then reads the environment.
 */
export interface SigningFlags {
  secret?: string;
  scheme?: Scheme;
  header?: string;
  prefix?: string;
  encoding?: 'hex' | 'base64';
  algorithm?: 'sha256' | 'sha512';
  timestampHeader?: string;
  deliveryIdHeader?: string;
}

export function addSigningOptions(command: Command): Command {
  // No environment values as commander defaults: --help prints defaults, and the secret is one.
  // signingOptions() reads the environment when the command runs.
  return command
    .option(
      '--secret <secret>',
      'the webhook secret the app is configured with (or env AQUEDUCT_WEBHOOK_SECRET)',
    )
    .addOption(
      new Option(
        '--scheme <scheme>',
        `how the app verifies requests (or env AQUEDUCT_VERIFICATION; else ${DEFAULT_SCHEME})`,
      ).choices(SCHEMES),
    )
    .option('--header <name>', 'signature/secret header (hmac, shared-secret)')
    .option('--prefix <text>', 'text before the digest, e.g. sha256= (hmac)')
    .addOption(
      new Option('--encoding <encoding>', 'digest encoding (hmac)').choices(['hex', 'base64']),
    )
    .addOption(new Option('--algorithm <algorithm>', 'hash (hmac)').choices(['sha256', 'sha512']))
    .option('--timestamp-header <name>', 'signed timestamp header (hmac)')
    .option('--delivery-id-header <name>', 'delivery id header (hmac, shared-secret)');
}

/** `--scheme`, else `AQUEDUCT_VERIFICATION` (checked: a usage error naming it), else the default. */
function schemeOf(flags: SigningFlags): Scheme {
  if (flags.scheme) {
    return flags.scheme;
  }
  const fromEnv = process.env.AQUEDUCT_VERIFICATION;
  if (!fromEnv) {
    return DEFAULT_SCHEME;
  }
  if (!(SCHEMES as readonly string[]).includes(fromEnv)) {
    throw new CliError(
      `AQUEDUCT_VERIFICATION must be one of ${SCHEMES.join(', ')}, got "${fromEnv}" (or give --scheme)`,
      ExitCode.Usage,
    );
  }
  return fromEnv as Scheme;
}

/** The flags as `signAqueductRequest` options, for one delivery (`id` stays the same on retries). */
export function signingOptions(flags: SigningFlags, id?: string): SignAqueductRequestOptions {
  const secret = (flags.secret ?? process.env.AQUEDUCT_WEBHOOK_SECRET)?.trim();
  if (!secret) {
    throw new CliError('--secret is required (or set AQUEDUCT_WEBHOOK_SECRET)', ExitCode.Usage);
  }
  const scheme = schemeOf(flags);
  const common = { secret, id };
  switch (scheme) {
    case 'standard-webhooks':
      checkStandardWebhooksSecret(secret);
      return { ...common, scheme: 'standard-webhooks' };
    case 'hmac':
      return {
        ...common,
        scheme: 'hmac',
        header: flags.header,
        prefix: flags.prefix,
        encoding: flags.encoding,
        algorithm: flags.algorithm,
        timestampHeader: flags.timestampHeader,
        deliveryIdHeader: flags.deliveryIdHeader,
      };
    default:
      return {
        ...common,
        scheme: 'shared-secret',
        header: flags.header,
        deliveryIdHeader: flags.deliveryIdHeader,
      };
  }
}

/** The app refuses such a secret at start-up; said here too, rather than as a decoder's stack. */
function checkStandardWebhooksSecret(secret: string): void {
  try {
    new Webhook(secret);
  } catch {
    throw new CliError(
      'the secret is not a Standard Webhooks secret (whsec_<base64>): pass the one the app ' +
        'verifies with, or --scheme for the scheme it uses',
      ExitCode.Usage,
    );
  }
}
