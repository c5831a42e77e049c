import { toDate, toEndDate } from './date.transform';
import { InvoiceDto } from './invoice.dto';
import {
  MAX_ID_LENGTH,
  ProvisioningDto,
  ProvisioningOrgDto,
  ProvisioningUserDto,
} from './provisioning.dto';
import { isRecord } from '../utils/is-record';

/*
 * The DTO classes are the public contract and class-validator the reference check, but running
 * class-transformer and class-validator took about 30 µs per event, a fifth of what the module
 * added to a request. Nearly every event Aqueduct sends is well-formed, so this checks the common case with
 * plain comparisons and builds the same instances plainToInstance would. It answers only "surely
 * valid" (the instance) or "not sure" (undefined): the full path then runs and writes the errors.
 * It must never accept what class-validator would refuse; event-object.fast-path.spec.ts compares
 * the two on generated and hostile objects.
 */

/** The DTO's date fields: parsed by `toDate`, as its `@ParseDate()` does. */
const REQUIRED_DATES = ['startDate', 'endDate'] as const;
const OPTIONAL_DATES = ['contractStartDate', 'contractEndDate', 'gracePeriodEndDate'] as const;
const DATE_FIELDS = new Set<string>([...REQUIRED_DATES, ...OPTIONAL_DATES]);
/** The ends of periods: a date alone is read as the end of its day (`@ParseEndDate()`). */
const END_DATES = new Set<string>(['endDate', 'contractEndDate', 'gracePeriodEndDate']);
const ORGS = 'provisioningOrgs';

/** A provisioning object (normalised) as a `ProvisioningDto`, when it is surely valid. */
export function fastProvisioning(plain: Record<string, unknown>): ProvisioningDto | undefined {
  if (
    !isId(plain.productId) ||
    !isId(plain.customerId) ||
    !optional(plain.invoiceId, isShortString) ||
    !optional(plain.subscriptionId, isString) ||
    !optional(plain.metadata, isObject) ||
    !Array.isArray(plain.provisioningOrgs) ||
    REQUIRED_DATES.some((field) => !(toDate(plain[field]) instanceof Date)) ||
    OPTIONAL_DATES.some((field) => !optional(plain[field], (v) => toDate(v) instanceof Date))
  ) {
    return undefined;
  }
  const orgs: ProvisioningOrgDto[] = [];
  for (const org of plain.provisioningOrgs) {
    const typed = fastOrg(org);
    if (!typed) {
      return undefined;
    }
    orgs.push(typed);
  }
  // The orgs were typed above: copied as they are, then replaced.
  const dto = copyInto(new ProvisioningDto(), plain, (key, value) =>
    END_DATES.has(key)
      ? toEndDate(value)
      : DATE_FIELDS.has(key)
        ? toDate(value)
        : key === ORGS
          ? value
          : copyJson(value),
  );
  if (!dto) {
    return undefined;
  }
  dto.provisioningOrgs = orgs;
  return dto;
}

/** An invoice as an `InvoiceDto`: the DTO has no constraint an object can fail. */
export function fastInvoice(plain: Record<string, unknown>): InvoiceDto | undefined {
  return copyInto(new InvoiceDto(), plain, (_key, value) => copyJson(value));
}

function fastOrg(org: unknown): ProvisioningOrgDto | undefined {
  if (!isPlainRecord(org) || !isString(org.name) || !optionalArray(org.users)) {
    return undefined;
  }
  const users: ProvisioningUserDto[] = [];
  for (const user of (org.users as unknown[] | undefined) ?? []) {
    if (!isPlainRecord(user) || !optional(user.name, isString) || !optional(user.email, isString)) {
      return undefined;
    }
    const typed = copyInto(new ProvisioningUserDto(), user, (_key, value) => copyJson(value));
    if (!typed) {
      return undefined;
    }
    users.push(typed);
  }
  const typed = copyInto(new ProvisioningOrgDto(), org, (_key, value) => copyJson(value));
  if (typed) {
    typed.users = users;
  }
  return typed;
}

/** What `copyJson` answers for a value the full path must handle. */
const NOT_SURE = Symbol('not sure');

/**
 * Copies the plain object's own fields onto the instance, as plainToInstance does. A key that
 * assignment would treat specially (`__proto__`), or that names an inherited method (`toString`,
 * which plainToInstance skips), is left to the full path.
 */
function copyInto<T extends object>(
  instance: T,
  plain: Record<string, unknown>,
  convert: (key: string, value: unknown) => unknown,
): T | undefined {
  const target = instance as Record<string, unknown>;
  for (const key of Object.keys(plain)) {
    if (isSpecialKey(target, key)) {
      return undefined;
    }
    const value = convert(key, plain[key]);
    if (value === NOT_SURE) {
      return undefined;
    }
    target[key] = value;
  }
  return instance;
}

/**
 * A JSON value copied as plainToInstance copies what no decorator types (listeners get their own
 * copy, not the payload's), or NOT_SURE when a nested key is special. The parser has already
 * bounded the depth.
 */
function copyJson(value: unknown): unknown {
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    for (const item of value) {
      const itemCopy = copyJson(item);
      if (itemCopy === NOT_SURE) {
        return NOT_SURE;
      }
      copy.push(itemCopy);
    }
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    return (
      copyInto(copy, value as Record<string, unknown>, (_key, item) => copyJson(item)) ?? NOT_SURE
    );
  }
  return value;
}

function isSpecialKey(target: Record<string, unknown>, key: string): boolean {
  return key === '__proto__' || typeof target[key] === 'function';
}

function optional(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === undefined || value === null || check(value);
}

/** Absent, or an array (null goes to the full path, which decides what it means). */
function optionalArray(value: unknown): boolean {
  return value === undefined || Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/**
 * At most MAX_ID_LENGTH UTF-16 units: class-validator counts a surrogate pair as one character, so
 * a string within this bound is within its bound too; a longer one takes the full path.
 */
function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_ID_LENGTH;
}

function isId(value: unknown): value is string {
  return isShortString(value) && value !== '';
}

/** class-validator's `@IsObject()`: any non-null object that is not an array. */
function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && Object.getPrototypeOf(value) === Object.prototype;
}
