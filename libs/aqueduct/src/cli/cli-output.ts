import { toDate } from '../events/date.transform';
import { printable as escapeControls, printableJson, printableLines } from '../utils/printable';

/** What an ISO 8601 date starts with (`new Date` alone takes "5" or "March 1" too). */
const ISO_DATE = /^[+-]?\d{4,6}-\d{2}-\d{2}/;

/** Exit codes scripts can rely on. */
export const ExitCode = {
  /** Done, and everything it was asked to do succeeded. */
  Ok: 0,
  /** Done, but the answer was a failure (non-2xx, not found, events given up). */
  Failed: 1,
  /** Bad arguments or configuration. */
  Usage: 2,
  /** The endpoint, API or database could not be reached. */
  Unreachable: 3,
} as const;

/** An error that ends the command with a given exit code and a one-line message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Failed,
  ) {
    super(message);
  }
}

/**
 * Prints `value` as JSON (for `--json`) or through `human` for people. The JSON has DEL and C1
 * escaped too (`JSON.stringify` escapes only C0), so it stays valid and is safe on a terminal.
 * `human` must pass every value that came from a sender, the database or Aqueduct's API through
 * `printable`; as a last guard, any control character left in its text but a newline is escaped.
 */
export function output(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(`${json ? printableJson(value, 2) : printableLines(human())}\n`);
}

/** A fixed-width table of rows of strings. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (cell ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Parses a positive integer option, or fails with a usage error naming it. */
export function positiveInt(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed <= 0) {
      throw new CliError(`${name} must be a positive integer, got "${value}"`, ExitCode.Usage);
    }
    return parsed;
  };
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

/** Parses a positive number option. */
export function positiveNumber(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) {
      throw new CliError(`${name} must be a positive number, got "${value}"`, ExitCode.Usage);
    }
    return parsed;
  };
}

/**
 * `text` (null and undefined as '') with every control character (C0, DEL and C1: tab and newline
 * too) shown as a visible escape (`\x1b` as `\u001b`), for printing values that come from a sender,
 * the database or Aqueduct's API (types, ids, names, errors, URLs): no escape sequence of theirs
 * reaches the terminal, none can break a line or a table, and the operator sees it was there.
 */
export function printable(text: unknown): string {
  return escapeControls(String(text ?? ''));
}
