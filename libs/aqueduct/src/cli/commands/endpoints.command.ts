import type { Command } from 'commander';
import { AqueductApiClient } from '../../api/aqueduct-api.client';
import { AqueductApiError } from '../../api/aqueduct-api.error';
import { compareEndpoints } from '../../api/endpoint-problems';
import { normaliseEventType, toApiEventName } from '../../events/aqueduct-event-types';
import { CliError, ExitCode, output, printable, table } from '../cli-output';

interface ApiFlags {
  apiKey?: string;
  apiUrl?: string;
  json?: boolean;
}

/** What `endpoints check` checks by default: the types Aqueduct's guide says it sends. */
const CHECK_DEFAULT_EVENTS = 'provisioning_start,provisioning_end,invoice_paid';

/** `endpoints register|list|check`: Aqueduct's webhook endpoints, without hand-written curl. */
export function registerEndpoints(program: Command): void {
  const endpoints = program
    .command('endpoints')
    .description("register, list and check webhook endpoints on Aqueduct's API");
  // No env values as commander defaults: --help prints defaults, and these are secrets.
  // client() and register read the environment when the command runs.
  const withApi = (command: Command) =>
    command
      .option('--api-key <key>', 'Aqueduct API key (or env AQUEDUCT_API_KEY)')
      .option('--api-url <url>', "Aqueduct's API base URL (or env AQUEDUCT_API_URL)")
      .option('--json', 'print JSON');

  withApi(
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
        secret?: string;
        events: string;
        description?: string;
        idempotencyKey?: string;
      },
    ) => {
      const secret = flags.secret ?? process.env.AQUEDUCT_WEBHOOK_SECRET;
      if (!secret) {
        throw new CliError('--secret is required (or set AQUEDUCT_WEBHOOK_SECRET)', ExitCode.Usage);
      }
      const endpoint = await call(() =>
        client(flags).createWebhookEndpoint(
          {
            url: flags.url,
            secret,
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
        // What Aqueduct's API answered: no escape sequence of its reaches the terminal.
        () =>
          `registered ${printable(endpoint.id)} → ${printable(endpoint.url)} for ${endpoint.enabledEvents.map(printable).join(', ')}`,
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
        list.map((e) => [
          printable(e.id),
          printable(e.url),
          e.enabledEvents.map(printable).join(','),
          printable(e.createdAt),
        ]),
      ),
    );
  });

  withApi(
    endpoints
      .command('check')
      .description(
        'check that an endpoint points at your app and sends the events it needs ' +
          '(exit 0 fine, 1 a problem, 3 API unreachable)',
      )
      .requiredOption(
        '--url <url>',
        "your app's public webhook URL (the module's publicUrl), e.g. https://app.example.com/webhooks/aqueduct",
      )
      .option('--events <types>', 'comma-separated event types it must send', CHECK_DEFAULT_EVENTS),
  ).action(async (flags: ApiFlags & { url: string; events: string }) => {
    const wanted = flags.events
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)
      .map(normaliseEventType);
    if (wanted.length === 0) {
      throw new CliError('--events must name at least one event type', ExitCode.Usage);
    }
    if (!/^https?:\/\/[^/]/i.test(flags.url) || !URL.canParse(flags.url)) {
      throw new CliError(
        `--url must be an absolute http:// or https:// URL, got "${flags.url}"`,
        ExitCode.Usage,
      );
    }
    const list = await call(() => client(flags).listWebhookEndpoints());
    const { problems, matching, missingEvents } = compareEndpoints(flags.url, wanted, list);
    const result = {
      ok: problems.length === 0,
      problems,
      endpoints: list.length,
      matching,
      missingEvents,
      checkedAt: new Date().toISOString(),
    };
    output(flags.json, result, () =>
      result.ok
        ? `ok: ${matching.map(printable).join(', ')} → ${printable(flags.url)} sends ${wanted
            .map((type) => printable(toApiEventName(type)))
            .join(', ')}`
        : // Endpoint URLs come from the API: no escape sequence of theirs reaches the terminal.
          problems.map((problem) => `problem: ${printable(problem)}`).join('\n'),
    );
    process.exitCode = result.ok ? ExitCode.Ok : ExitCode.Failed;
  });
}

function client(flags: ApiFlags): AqueductApiClient {
  const apiKey = flags.apiKey ?? process.env.AQUEDUCT_API_KEY;
  if (!apiKey) {
    throw new CliError('--api-key is required (or set AQUEDUCT_API_KEY)', ExitCode.Usage);
  }
  try {
    return new AqueductApiClient({
      apiKey,
      baseUrl: flags.apiUrl ?? (process.env.AQUEDUCT_API_URL || undefined),
    });
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
