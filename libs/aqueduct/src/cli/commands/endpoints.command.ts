import type { Command } from 'commander';
import { AqueductApiClient } from '../../api/aqueduct-api.client';
import { AqueductApiError } from '../../api/aqueduct-api.error';
import { CliError, ExitCode, output, table } from '../cli-output';

interface ApiFlags {
  apiKey?: string;
  apiUrl?: string;
  json?: boolean;
}

/** `endpoints register|list`: Aqueduct's webhook endpoints, without hand-written curl. */
export function registerEndpoints(program: Command): void {
  const endpoints = program
    .command('endpoints')
    .description("register and list webhook endpoints on Aqueduct's API");
  const withApi = (command: Command) =>
    command
      .option(
        '--api-key <key>',
        'Aqueduct API key (or env AQUEDUCT_API_KEY)',
        process.env.AQUEDUCT_API_KEY,
      )
      .option(
        '--api-url <url>',
        "Aqueduct's API base URL (or env AQUEDUCT_API_URL)",
        process.env.AQUEDUCT_API_URL,
      )
      .option('--json', 'print JSON');

  withApi(
    endpoints
      .command('register')
      .description('subscribe a URL of your app to Aqueduct events')
      .requiredOption(
        '--url <url>',
        'your webhook endpoint, e.g. https://app.example.com/webhooks/aqueduct',
      )
      .requiredOption(
        '--secret <secret>',
        'the secret your app verifies with (or env AQUEDUCT_WEBHOOK_SECRET)',
        process.env.AQUEDUCT_WEBHOOK_SECRET,
      )
      .option(
        '--events <types>',
        'comma-separated event types',
        'provisioning.start,provisioning.end,invoice.paid',
      )
      .option('--description <text>', 'shown in the dashboard')
      .option('--idempotency-key <key>', 'reuse to make a retried registration a no-op'),
  ).action(
    async (
      flags: ApiFlags & {
        url: string;
        secret: string;
        events: string;
        description?: string;
        idempotencyKey?: string;
      },
    ) => {
      const endpoint = await call(() =>
        client(flags).createWebhookEndpoint(
          {
            url: flags.url,
            secret: flags.secret,
            enabledEvents: flags.events
              .split(',')
              .map((e) => e.trim())
              .filter(Boolean),
            description: flags.description,
          },
          { idempotencyKey: flags.idempotencyKey },
        ),
      );
      const { secret: _secret, ...shown } = endpoint;
      output(
        flags.json,
        shown,
        () =>
          `registered ${endpoint.id} → ${endpoint.url} for ${endpoint.enabledEvents.join(', ')}`,
      );
    },
  );

  withApi(
    endpoints.command('list').description('the webhook endpoints registered on your account'),
  ).action(async (flags: ApiFlags) => {
    const list = await call(() => client(flags).listWebhookEndpoints());
    output(flags.json, list, () =>
      table(
        ['id', 'url', 'events', 'created'],
        list.map((e) => [e.id, e.url, e.enabledEvents.join(','), e.createdAt]),
      ),
    );
  });
}

function client(flags: ApiFlags): AqueductApiClient {
  if (!flags.apiKey) {
    throw new CliError('--api-key is required (or set AQUEDUCT_API_KEY)', ExitCode.Usage);
  }
  try {
    return new AqueductApiClient({ apiKey: flags.apiKey, baseUrl: flags.apiUrl });
  } catch (error) {
    throw new CliError((error as Error).message, ExitCode.Usage);
  }
}

async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AqueductApiError) {
      throw new CliError(
        error.message,
        error.status === undefined ? ExitCode.Unreachable : ExitCode.Failed,
      );
    }
    throw error;
  }
}
