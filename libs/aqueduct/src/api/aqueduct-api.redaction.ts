import { isRecord } from '../utils/is-record';
import { REDACTED } from './aqueduct-api.constants';

/** Anything a server (or a proxy) echoes back is scrubbed of the key before it is kept. */
export function redactText(text: string, secret: string): string {
  return text.split(secret).join(REDACTED);
}

/** `redactText` through a parsed JSON body: every string, keys included. */
export function redactDeep(value: unknown, secret: string): unknown {
  if (typeof value === 'string') {
    return redactText(value, secret);
  }
  if (Array.isArray(value)) {
    return value.map((item) => redactDeep(item, secret));
  }
  if (isRecord(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        redactText(key, secret),
        redactDeep(item, secret),
      ]),
    );
  }
  return value;
}
