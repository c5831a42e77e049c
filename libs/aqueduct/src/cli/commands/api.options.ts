import type { Command } from 'commander';
import { AqueductApiClient } from '../../api/aqueduct-api.client';
import { AqueductApiError } from '../../api/aqueduct-api.error';
import { CliError, ExitCode } from '../cli-output';

/** The flags of every command that calls Aqueduct's API. */
export interface ApiFlags {
  apiKey?: string;
  apiUrl?: string;
  json?: boolean;
}

/** Adds `--api-key`, `--api-url` and `--json` to `command`, after its own options. */
export function addApiOptions(command: Command): Command {
  // No env values as commander defaults: --help prints defaults, and these are secrets.
  // apiClient() and register read the environment when the command runs.
  return command
    .option('--api-key <key>', 'Aqueduct API key (or env AQUEDUCT_API_KEY)')
    .option('--api-url <url>', "Aqueduct's API base URL (or env AQUEDUCT_API_URL)")
    .option('--json', 'print JSON');
}

/** A client for the key and URL of the flags or the environment; a usage error without a key. */
export function apiClient(flags: ApiFlags): AqueductApiClient {
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

/** Runs an API call; its failure ends the command: exit 3 if unreachable, 1 if it answered. */
export async function callApi<T>(work: () => Promise<T>): Promise<T> {
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

/** The event types of a comma-separated `--events`, blanks dropped. */
export const eventTypeList = (events: string): string[] =>
  events
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
