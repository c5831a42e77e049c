import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { toDate } from './date.transform';
import { fastInvoice, fastProvisioning } from './event-object.fast-path';
import { AqueductEventType, UNTYPED_EVENT, normaliseEventType } from './aqueduct-event-types';
import { InvoiceDto } from './invoice.dto';
import { ProvisioningDto, normaliseProvisioning } from './provisioning.dto';
import { isRecord } from '../utils/is-record';
import { truncate } from '../utils/well-formed';

/**
 * What a verified body turned out to be. A valid event without a `createdAt` has `createdAt: null`
 * and a warning: the receiver uses the arrival time and says so on the event.
 */
export type ParsedEvent =
  | {
      valid: true;
      type: string;
      createdAt: Date | null;
      object: unknown;
      payload: unknown;
      warnings: string[];
    }
  | { valid: false; type: string; createdAt: Date | null; payload: unknown; errors: string[] };

/** Longest event type accepted (and stored: the type is indexed). Aqueduct's are ~20 characters. */
export const MAX_TYPE_LENGTH = 200;

/** The warning stored with an event that came without a `createdAt`. */
export const CREATED_AT_MISSING = 'createdAt missing: the arrival time is used as the event time';

// A Map, not an object literal: `toString` or `constructor` must not look like known types.
const OBJECT_CLASS = new Map<string, ClassConstructor<object>>([
  [AqueductEventType.ProvisioningStart, ProvisioningDto],
  [AqueductEventType.ProvisioningEnd, ProvisioningDto],
  [AqueductEventType.ProvisioningUpdate, ProvisioningDto],
  [AqueductEventType.InvoicePaid, InvoiceDto],
]);

/**
 * Deepest nesting validated in a known event's object. Aqueduct's objects are a few levels deep;
 * deeper input would only make class-transformer recurse until the stack overflows.
 */
const MAX_OBJECT_DEPTH = 32;

/**
 * Parses and validates a body that already passed verification. Known types get the full check
 * of their object; unknown types only need to be a JSON object, because new types appear over time
 * and rejecting one would get the endpoint disabled.
 */
export function parseAqueductEvent(rawBody: Buffer): ParsedEvent {
  const read = readJsonObject(rawBody);
  if ('invalid' in read) {
    return read.invalid;
  }
  const { payload } = read;
  const named =
    typeof payload.type === 'string' && payload.type.trim()
      ? normaliseEventType(payload.type)
      : UNTYPED_EVENT;
  // Stored (and indexed) at most this long, whatever was sent, and never cut inside a character.
  const type = truncate(named, MAX_TYPE_LENGTH);
  const parsedDate = toDate(payload.createdAt);
  const createdAt = parsedDate instanceof Date ? parsedDate : null;
  const warnings = createdAt ? [] : [CREATED_AT_MISSING];
  if (named.length > MAX_TYPE_LENGTH) {
    const errors = [`type must be at most ${MAX_TYPE_LENGTH} characters`];
    return { valid: false, type, createdAt, payload, errors };
  }
  const objectClass = OBJECT_CLASS.get(type);
  if (!objectClass) {
    return { valid: true, type, createdAt, object: payload.object ?? null, payload, warnings };
  }
  const checked = checkObject(objectClass, payload, createdAt);
  return 'errors' in checked
    ? { valid: false, type, createdAt, payload, errors: checked.errors }
    : { valid: true, type, createdAt, object: checked.object, payload, warnings };
}

/** The body as a JSON object, or the invalid event it makes when it is not one. */
function readJsonObject(
  rawBody: Buffer,
): { payload: Record<string, unknown> } | { invalid: ParsedEvent } {
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return { invalid: untyped(null, 'body must be valid JSON') };
  }
  return isRecord(payload)
    ? { payload }
    : { invalid: untyped(payload, 'body must be a JSON object') };
}

/** An invalid body whose type cannot even be read. */
function untyped(payload: unknown, error: string): ParsedEvent {
  return { valid: false, type: UNTYPED_EVENT, createdAt: null, payload, errors: [error] };
}

/** The full check of a known type's event: its `createdAt`, then its object against the DTO. */
function checkObject(
  objectClass: ClassConstructor<object>,
  payload: Record<string, unknown>,
  createdAt: Date | null,
): { object: object } | { errors: string[] } {
  const errors: string[] = [];
  const missingCreatedAt = payload.createdAt === undefined || payload.createdAt === null;
  if (!createdAt && !missingCreatedAt) {
    // Present but not a date: a format we do not understand, so its ordering cannot be trusted.
    errors.push('createdAt must be an ISO 8601 date or epoch number');
  }
  if (!isRecord(payload.object)) {
    errors.push('object must be a JSON object');
    return { errors };
  }
  if (depthExceeds(payload.object, MAX_OBJECT_DEPTH)) {
    errors.push(`object is nested deeper than ${MAX_OBJECT_DEPTH} levels`);
    return { errors };
  }
  // Surely valid (nearly every event): built without class-transformer and class-validator.
  const quick = errors.length === 0 ? fastTypedObject(objectClass, payload.object) : undefined;
  if (quick) {
    return { object: quick };
  }
  const object = toTypedObject(objectClass, payload.object);
  errors.push(...flatten(validateSync(object, { forbidUnknownValues: false }), 'object'));
  return errors.length ? { errors } : { object };
}

/**
 * The typed object of a stored, accepted event: a `ProvisioningDto` / `InvoiceDto` (dates as Date,
 * orgs normalised) for known types, the object as stored otherwise.
 */
export function toEventObject(type: string, object: unknown): unknown {
  const objectClass = OBJECT_CLASS.get(type);
  if (!objectClass || !isRecord(object) || depthExceeds(object, MAX_OBJECT_DEPTH)) {
    return object ?? null;
  }
  return fastTypedObject(objectClass, object) ?? toTypedObject(objectClass, object);
}

/** The fast path's instance (event-object.fast-path.ts), when it is sure; else undefined. */
function fastTypedObject(
  objectClass: ClassConstructor<object>,
  plain: Record<string, unknown>,
): object | undefined {
  if (objectClass === ProvisioningDto) {
    return fastProvisioning(normaliseProvisioning(plain));
  }
  return objectClass === InvoiceDto ? fastInvoice(plain) : undefined;
}

/** An instance of a known type's DTO, from its plain object (a provisioning's orgs normalised). */
function toTypedObject(
  objectClass: ClassConstructor<object>,
  plain: Record<string, unknown>,
): object {
  return plainToInstance(
    objectClass,
    objectClass === ProvisioningDto ? normaliseProvisioning(plain) : plain,
  );
}

/**
 * Nested class-validator errors → `object.provisioningOrgs.0.users.1.email must be a string`. A
 * required field that is absent (or null) is said so once, not once per rule of its value (optional
 * ones are never checked when absent).
 */
function flatten(errors: ValidationError[], parent: string): string[] {
  return errors.flatMap((error) => {
    const path = `${parent}.${error.property}`;
    if ((error.value === undefined || error.value === null) && error.constraints) {
      return [`${path} is required`];
    }
    const own = Object.values(error.constraints ?? {}).map((text) =>
      text.startsWith(error.property) ? `${parent}.${text}` : `${path}: ${text}`,
    );
    return [...own, ...flatten(error.children ?? [], path)];
  });
}

/** Iterative, so that measuring a hostile body cannot overflow the stack either. */
function depthExceeds(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > limit) {
      return true;
    }
    if (value !== null && typeof value === 'object') {
      for (const child of Object.values(value)) {
        stack.push([child, depth + 1]);
      }
    }
  }
  return false;
}
