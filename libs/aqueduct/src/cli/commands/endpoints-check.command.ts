import type { Command } from 'commander';
import { compareEndpoints } from '../../api/endpoint-problems';
import { normaliseEventType, toApiEventName } from '../../events/aqueduct-event-types';
import { CliError, ExitCode, output, printable } from '../cli-output';
import { addApiOptions, apiClient, type ApiFlags, callApi, eventTypeList } from './api.options';

interface CheckFlags extends ApiFlags {
  url: string;
  events: string;
}

/** What `endpoints check` checks by default: the types Aqueduct's guide says it sends. */
const CHECK_DEFAULT_EVENTS = 'provisioning_start,provisioning_end,invoice_paid';

/** `endpoints check`: whether an endpoint points at the app and sends the events it needs. */
export function registerEndpointsCheck(endpoints: Command): void {
  addApiOptions(
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
  ).action(async (flags: CheckFlags) => {
    const wanted = wantedTypes(flags);
    const list = await callApi(() => apiClient(flags).listWebhookEndpoints());
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

/** The event types to check, once the flags are known to be usable (else a usage error). */
function wantedTypes(flags: CheckFlags): string[] {
  const wanted = eventTypeList(flags.events).map(normaliseEventType);
  if (wanted.length === 0) {
    throw new CliError('--events must name at least one event type', ExitCode.Usage);
  }
  if (!/^https?:\/\/[^/]/i.test(flags.url) || !URL.canParse(flags.url)) {
    throw new CliError(
      `--url must be an absolute http:// or https:// URL, got "${flags.url}"`,
      ExitCode.Usage,
    );
  }
  return wanted;
}
