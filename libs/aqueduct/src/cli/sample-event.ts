import { readFileSync } from 'node:fs';
import { AqueductEventType, normaliseEventType } from '../events/aqueduct-event-types';
import {
  aqueductEvent,
  invoicePaidEvent,
  provisioningEndEvent,
  provisioningStartEvent,
} from '../testing/aqueduct-event.factory';
import { CliError, ExitCode } from './cli-output';

const DAY_MS = 86_400_000;

/** The types `send` generates a realistic object for (the module's known ones); any other is sent as a generic event. */
export const SAMPLE_TYPES: readonly string[] = Object.values(AqueductEventType);

/**
 * A realistic event of the given type, or the body read from `dataFile` as it is. A generated
 * `provisioning.end` is one firing now (its paid period ends now); with `invoiceId` it is about the
 * provisioning a `provisioning.start` sent with the same invoice, customer and product created,
 * and an `invoice.paid` pays it.
 */
export function sampleBody(
  type: string,
  overrides: { customerId?: string; productId?: string; invoiceId?: string },
  dataFile?: string,
): string {
  if (dataFile) {
    try {
      return readFileSync(dataFile, 'utf8');
    } catch (error) {
      throw new CliError(
        `cannot read --data ${dataFile}: ${(error as Error).message}`,
        ExitCode.Usage,
      );
    }
  }
  const fields = Object.fromEntries(
    Object.entries(overrides).filter(([, value]) => value !== undefined),
  );
  // A provisioning keyed by its invoice is its customer's: the same invoice alone names one.
  if (overrides.invoiceId !== undefined && overrides.customerId === undefined) {
    fields.customerId = `owner_${overrides.invoiceId}`;
  }
  switch (normaliseEventType(type)) {
    case AqueductEventType.ProvisioningStart:
      return JSON.stringify(provisioningStartEvent(fields));
    case AqueductEventType.ProvisioningEnd: {
      const end = new Date();
      const start = new Date(end.getTime() - 30 * DAY_MS);
      const dates = {
        startDate: start.toISOString(),
        endDate: end.toISOString(),
        contractStartDate: start.toISOString(),
        contractEndDate: end.toISOString(),
        gracePeriodEndDate: new Date(end.getTime() + 7 * DAY_MS).toISOString(),
      };
      return JSON.stringify(provisioningEndEvent({ ...dates, ...fields }));
    }
    case AqueductEventType.ProvisioningUpdate:
      return JSON.stringify({
        ...provisioningStartEvent(fields),
        type: AqueductEventType.ProvisioningUpdate,
      });
    case AqueductEventType.InvoicePaid: {
      const { invoiceId, ...rest } = fields;
      return JSON.stringify(invoicePaidEvent({ ...rest, ...(invoiceId ? { id: invoiceId } : {}) }));
    }
    default:
      return JSON.stringify(
        aqueductEvent(normaliseEventType(type), { id: `obj_${Date.now()}`, ...fields }),
      );
  }
}
