import type { Command } from 'commander';
import type { AqueductModuleOptions } from '../../options/aqueduct-options.interface';
import { CliError, ExitCode, isoDate } from '../cli-output';
import { addDatabaseOptions, type DbFlags } from './database.options';

/** The flags of the `access` commands: the database's, the moment to evaluate, the window. */
export interface AtFlags extends DbFlags {
  at?: Date;
  settleMs?: number;
}

/** Adds `--at` and `--settle-ms`, then `--database-url` and `--json`, after its own options. */
export function addAccessOptions(command: Command): Command {
  return addDatabaseOptions(
    command
      .option('--at <date>', 'the moment to evaluate (ISO 8601; default now)', isoDate('--at'))
      .option(
        '--settle-ms <ms>',
        "your app's access.settleMs, which sets the renewal window (or env AQUEDUCT_SETTLE_MS; default the module's)",
        settleMs('--settle-ms'),
      ),
  );
}

/**
 * The access options to read with: the host's `settleMs` (the flag, else `AQUEDUCT_SETTLE_MS`), so
 * that the CLI's answer is the app's: a paid end keeps access that long in both.
 */
export function accessOptionsOf(flags: AtFlags): AqueductModuleOptions['access'] {
  const fromEnv = process.env.AQUEDUCT_SETTLE_MS;
  const ms = flags.settleMs ?? (fromEnv ? settleMs('AQUEDUCT_SETTLE_MS')(fromEnv) : undefined);
  return ms === undefined ? undefined : { settleMs: ms };
}

/** Parses a number of ms >= 0. */
function settleMs(name: string) {
  return (value: string): number => {
    const ms = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(ms)) {
      throw new CliError(
        `${name} must be an integer number of ms >= 0, got "${value}"`,
        ExitCode.Usage,
      );
    }
    return ms;
  };
}
