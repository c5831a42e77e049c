/**
 * Control characters: C0 (tab and newline included), DEL and C1. A terminal acts on them (colours,
 * cursor moves, titles, OSC 8 links, clearing the screen), and a log line with a newline in it
 * reads as two lines.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

/** DEL and C1: what `JSON.stringify` leaves as they are (it escapes C0 itself). */
const DEL_AND_C1 = /[\u007f-\u009f]/g;

/** `\u001b` for ESC: six visible characters, as in a JavaScript or JSON string. */
const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `text` with every control character (C0, DEL, C1; tab and newline too) written as a visible
 * `\uXXXX` escape (`\x1b` becomes `\u001b`), for printing a value that came from a sender or
 * from a remote API (event types, ids, error messages, names, URLs) to a terminal or into a log
 * line: none of its escape sequences reaches the terminal, it cannot start a new line, and
 * whoever reads it sees that something odd was there. Everything else is left as it is.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

/**
 * Like `printable`, but keeps newlines: for text of several lines that is already made of
 * escaped values (a table, a report, a stack trace).
 */
export function printableLines(text: string): string {
  return text.replace(CONTROL_BUT_NEWLINE, escapeChar);
}

/**
 * `JSON.stringify(value, null, space)` with DEL and C1 escaped too: still valid JSON that parses
 * back to the same value, and safe to print to a terminal (`JSON.stringify` escapes C0 itself,
 * but writes DEL and C1, e.g. `\x9b`, a one-byte CSI, as they are).
 */
export function printableJson(value: unknown, space?: number): string {
  const text = JSON.stringify(value, null, space) as string | undefined;
  return (text ?? 'null').replace(DEL_AND_C1, escapeChar);
}
