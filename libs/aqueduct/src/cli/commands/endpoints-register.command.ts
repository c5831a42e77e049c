import type { Command } from 'commander';
import { CliError, ExitCode, output, printable } from '../cli-output';
import { addApiOptions, apiClient, type ApiFlags, callApi, eventTypeList } from './api.options';

interface RegisterFlags extends ApiFlags {
  url: string;
  secret?: string;
  events: string;
  description?: string;
  idempotencyKey?: string;
}

/** The types `endpoints register` subscribes to unless `--events` says otherwise. */
const REGISTER_DEFAULT_EVENTS = 'provisioning.start,provisioning.end,invoice.paid';

/** `endpoints register`: subscribes a URL of the app to Aqueduct's events. */
export function registerEndpointsRegister(endpoints: Command): void {
  addApiOptions(
    endpoints
      .command('register')
      .description('subscribe a URL of your app to Aqueduct events')
      .requiredOption(
        '--url <url>',
        'your webhook endpoint, e.g. https://app.example.com/webhooks/aqueduct',
      )
      .option(
        '--secret <secret>',
        'the secret your app verifies with (or env AQUEDUCT_WEBHOOK_SECRET)',
      )
      .option('--events <types>', 'comma-separated event types', REGISTER_DEFAULT_EVENTS)
      .option('--description <text>', 'shown in the dashboard')
      .option('--idempotency-key <key>', 'reuse to make a retried registration a no-op'),
  ).action(async (flags: RegisterFlags) => {
    // Trimmed as the app trims its own: Aqueduct must sign with what the app verifies with.
    const secret = (flags.secret ?? process.env.AQUEDUCT_WEBHOOK_SECRET)?.trim();
    if (!secret) {
      throw new CliError('--secret is required (or set AQUEDUCT_WEBHOOK_SECRET)', ExitCode.Usage);
    }
    const endpoint = await callApi(() =>
      apiClient(flags).createWebhookEndpoint(
        {
          url: flags.url,
          secret,
          enabledEvents: eventTypeList(flags.events),
          description: flags.description,
        },
        { idempotencyKey: flags.idempotencyKey },
      ),
    );
    const { secret: _secret, ...shown } = endpoint;
    output(
      flags.json,
      shown,
      // What Aqueduct's API answered: no escape sequence of its reaches the terminal.
      () =>
        `registered ${printable(endpoint.id)} → ${printable(endpoint.url)} for ${endpoint.enabledEvents.map(printable).join(', ')}`,
    );
  });
}
