import type { Command } from 'commander';
import { isoDate } from '../cli-output';
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
