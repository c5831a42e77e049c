import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli-output';
import { toDate } from '../../events/date.transform';
import { addDatabaseOptions, type DbFlags } from './database.options';

/** What an ISO 8601 date starts with (`new Date` alone takes "5" or "March 1" too). */
const ISO_DATE = /^[+-]?\d{4,6}-\d{2}-\d{2}/;

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

/**
 * Parses an ISO 8601 date option as events' dates are read (without an offset: UTC, not the
 * machine's zone), or fails with a usage error naming it.
 */
export function isoDate(name: string) {
  return (value: string): Date => {
    const parsed = ISO_DATE.test(value.trim()) ? toDate(value) : undefined;
    if (!(parsed instanceof Date)) {
      throw new CliError(`${name} must be an ISO 8601 date, got "${value}"`, ExitCode.Usage);
    }
    return parsed;
  };
}
