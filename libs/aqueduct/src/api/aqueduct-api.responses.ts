import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { normaliseEventType } from '../events/aqueduct-event-types';
import { ProvisioningDto, normaliseProvisioning } from '../events/provisioning.dto';
import { isRecord } from '../utils/is-record';
import { UNEXPECTED_RESPONSE } from './aqueduct-api.constants';
import { AqueductApiError } from './aqueduct-api.error';
import type { AqueductWebhookEndpoint } from './aqueduct-api.interfaces';
import { httpFailure } from './aqueduct-api.messages';

/** Keys a list response may wrap its array in; Aqueduct does not document which one it uses. */
const LIST_KEYS = ['data', 'results', 'items'] as const;

/** The call an answer came from, as an `AqueductApiError` names it. */
export interface ErrorContext {
  method: string;
  path: string;
  status: number;
  attempts: number;
}

/** A 2xx whose body is not what the call returns: not retried, since asking again gives the same. */
export function unexpected(context: ErrorContext, detail: string): AqueductApiError {
  return new AqueductApiError({
    ...context,
    code: UNEXPECTED_RESPONSE,
    message: httpFailure(
      context.method,
      context.path,
      context.status,
      `unexpected answer: ${detail}`,
    ),
  });
}

/** The JSON of a body, or undefined when it is empty or not JSON. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Turns a raw API answer into an endpoint, events dotted; anything else is an unexpected answer. */
export function toEndpoint(value: unknown, context: ErrorContext): AqueductWebhookEndpoint {
  if (!isRecord(value) || typeof value.id !== 'string') {
    throw unexpected(context, 'a webhook endpoint has no string "id"');
  }
  const events = Array.isArray(value.enabledEvents) ? value.enabledEvents : [];
  return {
    ...value,
    enabledEvents: events.filter((event) => typeof event === 'string').map(normaliseEventType),
  } as AqueductWebhookEndpoint;
}

/** The endpoints of a list answer: a bare array, or one wrapped in an object under a `LIST_KEYS` key. */
export function toEndpointList(json: unknown, context: ErrorContext): AqueductWebhookEndpoint[] {
  const list = Array.isArray(json)
    ? json
    : isRecord(json)
      ? LIST_KEYS.map((key) => json[key]).find(Array.isArray)
      : undefined;
  if (!list) {
    const shape = isRecord(json)
      ? `an object with keys ${Object.keys(json).join(', ')}`
      : 'not a list';
    throw unexpected(context, `the list of webhook endpoints is ${shape}`);
  }
  return list.map((item) => toEndpoint(item, context));
}

/** A Provisioning answer as a validated `ProvisioningDto`; anything else is an unexpected answer. */
export function toProvisioning(json: unknown, context: ErrorContext): ProvisioningDto {
  if (!isRecord(json)) {
    throw unexpected(context, 'the Provisioning object is not a JSON object');
  }
  const provisioning = plainToInstance(ProvisioningDto, normaliseProvisioning(json));
  const errors = flatten(
    validateSync(provisioning, { forbidUnknownValues: false }),
    'provisioning',
  );
  if (errors.length) {
    throw unexpected(context, `the Provisioning object is invalid: ${errors.join('; ')}`);
  }
  return provisioning;
}

/** Nested class-validator errors → `provisioning.provisioningOrgs.0.users.1.email: ...`. */
function flatten(errors: ValidationError[], parent: string): string[] {
  return errors.flatMap((error) => {
    const path = `${parent}.${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((text) => `${path}: ${text}`);
    return [...own, ...flatten(error.children ?? [], path)];
  });
}
