/**
 * Helpers for test/hostile-input.e2e-spec.ts: Standard Webhooks signing over raw bytes, a sender
 * that puts exactly the given bytes and headers on the wire, and small independent oracles (what
 * the README promises for a body) used by the properties.
 */
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import request from 'supertest';

export type HeaderValue = string | string[];

export interface RawRequest {
  body: Buffer;
  /** Sent as given; an array value is sent as repeated header lines. */
  headers: Record<string, HeaderValue>;
}

export interface RawResponse {
  status: number;
  body: any;
  headers: Record<string, string>;
}

/** `v1,<base64>`: HMAC-SHA256 of `<id>.<timestamp>.<body bytes>` with a `whsec_` secret (the spec). */
export function standardWebhooksSignature(
  secret: string,
  id: string,
  timestamp: string,
  body: Buffer,
): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]))
    .digest('base64');
  return `v1,${mac}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export const utf8 = (text: string) => Buffer.from(text, 'utf8');

/**
 * POSTs the exact bytes. superagent would JSON-encode a Buffer when the content type is JSON, so
 * the serializer is replaced by the identity; it sets no content type of its own for a Buffer.
 */
export async function postRaw(server: Server, path: string, req: RawRequest): Promise<RawResponse> {
  let pending = request(server).post(path);
  for (const [name, value] of Object.entries(req.headers)) {
    pending = pending.set(name, value as string);
  }
  const res = await pending.serialize((body: Buffer) => body as unknown as string).send(req.body);
  return { status: res.status, body: res.body, headers: res.headers as Record<string, string> };
}

// ---------------------------------------------------------------------------------------------
// Oracles. They follow the README ("Dates may be ISO 8601 or epoch numbers", "unknown types are
// always accepted", "\u0000 is kept as raw bytes and rejected"), not the library's code.
// ---------------------------------------------------------------------------------------------

export const KNOWN_TYPES = [
  'provisioning.start',
  'provisioning.end',
  'provisioning.update',
  'invoice.paid',
];

/** Earliest instant Postgres' timestamptz can hold: 4714-11-24 00:00 BC (ISO year -4713). */
export const PG_MIN_TIMESTAMP_MS = Date.UTC(-4713, 10, 24);

/** The event type the README says a body has: the dotted form of `type`, or "unknown". */
export function eventTypeOf(payload: Record<string, unknown>): string {
  if (typeof payload.type !== 'string' || payload.type.trim() === '') {
    return 'unknown';
  }
  const trimmed = payload.type.trim();
  return trimmed.includes('.') ? trimmed : trimmed.replace('_', '.');
}

/**
 * An ISO 8601 string or an epoch number (seconds below 1e11, else milliseconds) as an instant, or
 * undefined when it is not a date JavaScript can represent.
 */
export function asDate(value: unknown): Date | undefined {
  let date: Date | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) {
    date = new Date(value < 1e11 ? value * 1000 : value);
  } else if (typeof value === 'string' && value.trim() !== '') {
    date = new Date(value);
  }
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Visits every key and string value of a JSON value (iteratively: values may be deep). */
export function someString(value: unknown, test: (text: string) => boolean): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') {
      if (test(current)) {
        return true;
      }
    } else if (Array.isArray(current)) {
      stack.push(...current);
    } else if (isRecord(current)) {
      for (const [key, child] of Object.entries(current)) {
        if (test(key)) {
          return true;
        }
        stack.push(child);
      }
    }
  }
  return false;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const hasLoneSurrogate = (text: string) => LONE_SURROGATE.test(text);
export const hasNul = (text: string) => text.includes('\u0000');

/** Nesting depth of a JSON value (iteratively). */
export function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    max = Math.max(max, depth);
    if (Array.isArray(current)) {
      current.forEach((child) => stack.push([child, depth + 1]));
    } else if (isRecord(current)) {
      Object.values(current).forEach((child) => stack.push([child, depth + 1]));
    }
  }
  return max;
}

/** A JSON number token with an exponent of 5 digits or more: beyond Postgres' numeric range. */
const HUGE_EXPONENT = /(?:^|[\s,:[])-?\d+(?:\.\d+)?[eE][+-]?0*\d{5,}/;

/** Depth of a known type's object above which the module overflows the JS stack (bug B5). */
export const KNOWN_TYPE_SAFE_DEPTH = 500;

/**
 * Classes of signed bodies that currently get a 5xx (see the `it.failing` properties). The broad
 * properties still require "no 2xx without a row" and "no crash" for them, but not 200/400.
 */
export function knownBug(raw: Buffer): string | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (someString(payload, hasLoneSurrogate)) {
    return 'B1 lone surrogate escape';
  }
  if (HUGE_EXPONENT.test(raw.toString('utf8'))) {
    return 'B2 number beyond numeric range';
  }
  if (!isRecord(payload)) {
    return undefined;
  }
  if (typeof payload.type === 'string' && hasNul(payload.type)) {
    return 'B3 NUL in type';
  }
  const createdAt = asDate(payload.createdAt);
  if (createdAt && createdAt.getTime() < PG_MIN_TIMESTAMP_MS) {
    return 'B4 createdAt before 4714 BC';
  }
  if (Object.getOwnPropertyNames(Object.prototype).includes(eventTypeOf(payload))) {
    return 'B7 type named like an Object.prototype member';
  }
  if (
    KNOWN_TYPES.includes(eventTypeOf(payload)) &&
    depthOf(payload.object) > KNOWN_TYPE_SAFE_DEPTH
  ) {
    return 'B5 deep known object';
  }
  return undefined;
}

/**
 * What a signed body must get: one of `statuses`; for a 400, exactly `message` when given, and
 * a message naming each of `mentions` (and nothing else) when given.
 */
export interface Expectation {
  statuses: number[];
  message?: string[];
  mentions?: string[];
}

export const NOT_JSON = 'body must be valid JSON';
export const NOT_OBJECT = 'body must be a JSON object';
export const NUL_MESSAGE = 'body contains characters Postgres cannot store as JSON (\\u0000)';

/** What the README's table says a verified body gets (for a known type: 200 or 400). */
export function expectationFor(raw: Buffer, maxBodyBytes: number): Expectation {
  if (raw.length > maxBodyBytes) {
    return { statuses: [413] };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(raw.toString('utf8'));
  } catch {
    return { statuses: [400], message: [NOT_JSON] };
  }
  if (!isRecord(payload)) {
    return { statuses: [400], message: [NOT_OBJECT] };
  }
  if (someString(payload, hasNul)) {
    return { statuses: [400], message: [NUL_MESSAGE] };
  }
  return KNOWN_TYPES.includes(eventTypeOf(payload))
    ? { statuses: [200, 400] }
    : { statuses: [200] };
}

/** A 400's message must name what is wrong: the body, the envelope's createdAt or an object field. */
export const NAMES_A_FIELD = /^(body|createdAt|object)(\.[\w.]+)?( |:)/;

// ---------------------------------------------------------------------------------------------

/** `gc()` even without --expose-gc (the flag is set at run time, then read by a new context). */
export function gcFunction(): (() => void) | undefined {
  const global = globalThis as { gc?: () => void };
  if (typeof global.gc === 'function') {
    return global.gc;
  }
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
