import type { IncomingHttpHeaders } from 'node:http';
import { STANDARD_WEBHOOKS_HEADERS } from '../aqueduct.constants';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';

/** Headers kept with each event for debugging. Signatures and secrets are never among them. */
const KEPT_HEADERS = [
  'content-type',
  'content-length',
  'user-agent',
  'x-request-id',
  ...STANDARD_WEBHOOKS_HEADERS.id,
  ...STANDARD_WEBHOOKS_HEADERS.timestamp,
];

/** Longest header value kept (a header can be as long as the server lets it be). */
const MAX_KEPT_HEADER_LENGTH = 512;

/**
 * The headers kept with each event: the usual ones, and the delivery id and timestamp headers the
 * verification is configured with.
 */
export function keptHeaderNames(verification: ResolvedAqueductOptions['verification']): string[] {
  const extra = [
    'deliveryIdHeader' in verification ? verification.deliveryIdHeader : undefined,
    'timestampHeader' in verification ? verification.timestampHeader : undefined,
  ];
  return [...KEPT_HEADERS, ...extra.filter((h): h is string => !!h).map((h) => h.toLowerCase())];
}

/** The kept headers of a request, repeated ones joined, each bounded. */
export function pickHeaders(headers: IncomingHttpHeaders, names: string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) {
      kept[name] = (Array.isArray(value) ? value.join(', ') : value).slice(
        0,
        MAX_KEPT_HEADER_LENGTH,
      );
    }
  }
  return kept;
}
