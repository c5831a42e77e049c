import { Type } from 'class-transformer';
import {
  IsArray,
  IsDate,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { ParseDate, ParseEndDate } from './date.transform';
import { isRecord } from '../utils/is-record';

const DATE = { message: '$property must be an ISO 8601 date or epoch number' };

/**
 * Longest id accepted for what the ledger indexes (customer, product, invoice): far beyond
 * Aqueduct's ids, and short enough that two of them always fit one index entry. A longer one is
 * quarantined with an error naming it, never answered 5xx.
 */
export const MAX_ID_LENGTH = 256;

/**
 * A person to give access to. Nothing here is required: the guides promise no more than a name and
 * an address, and refusing the event would refuse the whole org its access. A user without a name
 * is provisioned nameless; one with an empty or invalid address is provisioned and skipped for mail.
 */
export class ProvisioningUserDto {
  @IsOptional()
  @IsString()
  name: string | null;

  @IsOptional()
  @IsString()
  email: string | null;

  [extra: string]: unknown;
}

/** An organisation to give access to, and its users. */
export class ProvisioningOrgDto {
  @IsString()
  name: string;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ProvisioningUserDto)
  users: ProvisioningUserDto[] = [];

  [extra: string]: unknown;
}

/**
 * Aqueduct's Provisioning object. `provisioningOrgs` is always an array here, whichever shape
 * arrived. Fields not listed are kept as they came.
 */
export class ProvisioningDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_ID_LENGTH)
  productId: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_ID_LENGTH)
  customerId: string;

  @ParseDate()
  @IsDate(DATE)
  startDate: Date;

  @ParseEndDate()
  @IsDate(DATE)
  endDate: Date;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  invoiceId?: string | null;

  @IsOptional()
  @IsString()
  subscriptionId?: string | null;

  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;

  /** Documented as "object | null"; kept whatever its shape. */
  @IsOptional()
  externalSubscriptionId?: unknown;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ProvisioningOrgDto)
  provisioningOrgs: ProvisioningOrgDto[] = [];

  @IsOptional()
  @ParseDate()
  @IsDate(DATE)
  contractStartDate?: Date | null;

  @IsOptional()
  @ParseEndDate()
  @IsDate(DATE)
  contractEndDate?: Date | null;

  @IsOptional()
  @ParseEndDate()
  @IsDate(DATE)
  gracePeriodEndDate?: Date | null;

  [extra: string]: unknown;
}

const HOISTED_FIELDS = ['contractStartDate', 'contractEndDate', 'gracePeriodEndDate'] as const;

/**
 * The guide's layout of the object is loose: `provisioningOrgs` may be one object or an array, and
 * the contract dates may sit inside it instead of at the top. This brings both to one shape.
 */
export function normaliseProvisioning(object: Record<string, unknown>): Record<string, unknown> {
  const orgs = object.provisioningOrgs;
  const list = orgs === undefined || orgs === null ? [] : Array.isArray(orgs) ? orgs : [orgs];
  const normalised: Record<string, unknown> = { ...object, provisioningOrgs: list };
  for (const field of HOISTED_FIELDS) {
    if (normalised[field] === undefined) {
      const nested = list.find((org) => isRecord(org) && org[field] !== undefined) as
        Record<string, unknown> | undefined;
      if (nested) {
        normalised[field] = nested[field];
      }
    }
  }
  return normalised;
}
