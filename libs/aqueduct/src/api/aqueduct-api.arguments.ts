import { toApiEventName } from '../events/aqueduct-event-types';
import { isRecord } from '../utils/is-record';
import { IDEMPOTENCY_KEY_MAX_LENGTH } from './aqueduct-api.constants';
import type { CreateWebhookEndpointInput } from './aqueduct-api.interfaces';
import { invalidArgument } from './aqueduct-api.messages';
import { HEADER_TOKEN, isHttpUrl } from './aqueduct-api.syntax';

/**
 * The body of `createWebhookEndpoint`, its input checked: event names with underscores, as the
 * API wants them, each once. Throws a TypeError naming the first field that is wrong.
 */
export function webhookEndpointBody(input: CreateWebhookEndpointInput): Record<string, unknown> {
  const fail = (field: string, problem: string) =>
    new TypeError(invalidArgument('createWebhookEndpoint', field, problem));
  if (!isRecord(input)) {
    throw fail('input', 'must be an object { url, enabledEvents, secret, description? }');
  }
  const { url, enabledEvents, secret, description } = input;
  if (typeof url !== 'string' || !isHttpUrl(url)) {
    throw fail('url', 'must be an absolute http:// or https:// URL');
  }
  if (
    !Array.isArray(enabledEvents) ||
    enabledEvents.length === 0 ||
    !enabledEvents.every((event) => typeof event === 'string' && event.trim() !== '')
  ) {
    throw fail('enabledEvents', 'must be a non-empty array of event names');
  }
  // The secret is never echoed, even when wrong.
  if (typeof secret !== 'string' || secret.trim() === '') {
    throw fail('secret', 'must be a non-empty string');
  }
  if (description !== undefined && typeof description !== 'string') {
    throw fail('description', 'must be a string when given');
  }
  return {
    url,
    enabledEvents: [...new Set(enabledEvents.map(toApiEventName))],
    secret,
    ...(description === undefined ? {} : { description }),
  };
}

/** The caller's `Idempotency-Key`, checked; undefined when none was given. */
export function checkIdempotencyKey(key: unknown): string | undefined {
  if (key === undefined) {
    return undefined;
  }
  if (
    typeof key !== 'string' ||
    key.length > IDEMPOTENCY_KEY_MAX_LENGTH ||
    !HEADER_TOKEN.test(key)
  ) {
    throw new TypeError(
      invalidArgument(
        'createWebhookEndpoint',
        'idempotencyKey',
        `must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters`,
      ),
    );
  }
  return key;
}

/** The id of `getProvisioning`, trimmed. */
export function checkProvisioningId(id: unknown): string {
  if (typeof id !== 'string' || id.trim() === '') {
    throw new TypeError(invalidArgument('getProvisioning', 'id', 'must be a non-empty string'));
  }
  return id.trim();
}
