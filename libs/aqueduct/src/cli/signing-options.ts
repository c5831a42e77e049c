import { type Command, Option } from 'commander';
import type { SignAqueductRequestOptions } from '../testing/sign-aqueduct-request';
import { CliError, ExitCode } from './cli-output';

/** What `send` and `simulate` accept to sign like the receiving app expects. */
export interface SigningFlags {
  secret: string;
  scheme: 'standard-webhooks' | 'hmac' | 'shared-secret';
  header?: string;
  prefix?: string;
  encoding?: 'hex' | 'base64';
  algorithm?: 'sha256' | 'sha512';
  timestampHeader?: string;
  deliveryIdHeader?: string;
}

export function addSigningOptions(command: Command): Command {
  return command
    .requiredOption(
      '--secret <secret>',
      'the webhook secret the app is configured with (or env AQUEDUCT_WEBHOOK_SECRET)',
      process.env.AQUEDUCT_WEBHOOK_SECRET,
    )
    .addOption(
      new Option('--scheme <scheme>', 'how the app verifies requests')
        .choices(['standard-webhooks', 'hmac', 'shared-secret'])
        .default(process.env.AQUEDUCT_VERIFICATION ?? 'shared-secret'),
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

/** The flags as `signAqueductRequest` options, for one delivery (`id` stays the same on retries). */
export function signingOptions(flags: SigningFlags, id?: string): SignAqueductRequestOptions {
  if (!flags.secret) {
    throw new CliError('--secret is required (or set AQUEDUCT_WEBHOOK_SECRET)', ExitCode.Usage);
  }
  const common = { secret: flags.secret, id };
  switch (flags.scheme) {
    case 'standard-webhooks':
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
