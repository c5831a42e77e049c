import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli-output';
import { addDatabaseOptions, type DbFlags } from './database.options';

/** The flags of the `access` commands: the database's, and the moment to evaluate. */
export interface AtFlags extends DbFlags {
  at?: Date;
}

/** Adds `--at`, then `--database-url` and `--json`, to `command`, after its own options. */
export function addAccessOptions(command: Command): Command {
  return addDatabaseOptions(
    command.option(
      '--at <date>',
      'the moment to evaluate (ISO 8601; default now)',
      isoDate('--at'),
    ),
  );
}

/** Parses `--at`, or fails with a usage error naming it. */
function isoDate(name: string) {
  return (value: string): Date => {
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) {
      throw new CliError(`${name} must be an ISO 8601 date, got "${value}"`, ExitCode.Usage);
    }
    return parsed;
  };
}
