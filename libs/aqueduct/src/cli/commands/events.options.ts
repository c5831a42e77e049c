import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli-output';
import { addDatabaseOptions } from './database.options';

/** `events <name> <eventId>`, with the database's options: a command on one stored event. */
export function eventIdCommand(events: Command, name: string, description: string): Command {
  return addDatabaseOptions(events.command(name).description(description).argument('<eventId>'));
}

/**
 * For the commands on one stored item or on all of them (`redrive`, `reprocess`): a usage error
 * saying `message` when given neither the id nor the `--all-…` flag.
 */
export function requireIdOrAll(
  id: string | undefined,
  all: boolean | undefined,
  message: string,
): void {
  if (!id && !all) {
    throw new CliError(message, ExitCode.Usage);
  }
}
