import { invalidOption } from '../aqueduct.messages';
import { MAX_TIMER_MS } from './aqueduct-options.defaults';

/** Checks shared by every section of the options: each names the field it refuses. */

export function positiveInteger(field: string, value: unknown, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(invalidOption(field, 'must be a positive integer'));
  }
  return value;
}

/**
 * A positive number of ms that a Node timer can hold: past 2^31 - 1 ms, setTimeout warns and fires
 * after 1 ms (every store would time out, every access read fall back).
 */
export function timerMs(field: string, value: unknown, fallback: number): number {
  const ms = positiveInteger(field, value, fallback);
  if (ms > MAX_TIMER_MS) {
    throw new Error(
      invalidOption(field, `must be at most ${MAX_TIMER_MS} ms (what a timer holds)`),
    );
  }
  return ms;
}

/** A finite number from 0 to `max`. */
export function ratioOption(field: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new Error(invalidOption(field, `must be a number from 0 to ${max}`));
  }
  return value;
}

export function booleanOption(field: string, value: unknown, fallback: boolean): boolean {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new Error(invalidOption(field, 'must be true or false'));
  }
  return value ?? fallback;
}

export function normalisePath(path: unknown, field = 'path'): string {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new Error(invalidOption(field, 'must be a non-empty route path'));
  }
  const normalised = path.trim().replace(/^\/+|\/+$/g, '');
  if (normalised === '') {
    throw new Error(invalidOption(field, 'must not be the root path'));
  }
  return normalised;
}

export function normaliseSecrets(secrets: unknown): string[] {
  if (secrets === undefined) {
    return [];
  }
  const list = Array.isArray(secrets) ? secrets : [secrets];
  list.forEach((secret, index) => {
    if (typeof secret !== 'string' || secret.trim() === '') {
      const got = typeof secret === 'string' ? 'an empty string' : String(secret);
      throw new Error(
        invalidOption(
          `secrets[${index}]`,
          `must be a non-empty string, got ${got} (is AQUEDUCT_WEBHOOK_SECRET set?)`,
        ),
      );
    }
  });
  // A secret read from a file or an `echo` may end with a newline the sender never signed with,
  // or was registered with it (and signs with it): both forms verify.
  return [...new Set((list as string[]).flatMap((secret) => [secret, secret.trim()]))];
}

export function checkPublicUrl(value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  const problem =
    'must be the absolute http:// or https:// URL at which Aqueduct reaches the webhook ' +
    'endpoint, e.g. "https://app.example.com/api/webhooks/aqueduct"';
  if (typeof value !== 'string') {
    throw new Error(invalidOption('publicUrl', problem));
  }
  try {
    const { protocol } = new URL(value.trim());
    if (protocol === 'http:' || protocol === 'https:') {
      return value.trim();
    }
  } catch {
    // reported below
  }
  throw new Error(invalidOption('publicUrl', problem));
}
