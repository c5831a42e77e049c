import type { INestApplicationContext } from '@nestjs/common';
import type { Command } from 'commander';
import type { AqueductModuleOptions } from '../../options/aqueduct-options.interface';
import { withDatabase } from '../database-context';

/** The flags of every command that reads or changes the Aqueduct tables. */
export interface DbFlags {
  databaseUrl?: string;
  json?: boolean;
}

/** Adds `--database-url` and `--json` to `command`, after its own options. */
export function addDatabaseOptions(command: Command): Command {
  return (
    command
      // Read from the environment when the command runs, not given as a default: commander
      // would print the default, password included, in --help.
      .option('--database-url <url>', 'Postgres holding the Aqueduct tables (or env DATABASE_URL)')
      .option('--json', 'print JSON')
  );
}

/**
 * Runs `work` on the module against `--database-url`, else the environment's `DATABASE_URL` (see
 * `withDatabase`), with the host's `access` options when given.
 */
export function onDatabase<T>(
  flags: DbFlags,
  work: (app: INestApplicationContext) => Promise<T>,
  access?: AqueductModuleOptions['access'],
): Promise<T> {
  return withDatabase(flags.databaseUrl ?? process.env.DATABASE_URL, work, access);
}
