import { readFileSync } from 'node:fs';
import { AqueductEventType, normaliseEventType } from '../events/aqueduct-event-types';
import {
  aqueductEvent,
  invoicePaidEvent,
  provisioningEndEvent,
  provisioningStartEvent,
} from '../testing/aqueduct-event.factory';
import { CliError, ExitCode } from './cli-output';

/** A realistic event of the given type, or the body read from `dataFile` as it is. */
export function sampleBody(
  type: string,
  overrides: { customerId?: string; productId?: string },
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
  switch (normaliseEventType(type)) {
    case AqueductEventType.ProvisioningStart:
      return JSON.stringify(provisioningStartEvent(fields));
    case AqueductEventType.ProvisioningEnd:
      return JSON.stringify(provisioningEndEvent(fields));
    case AqueductEventType.ProvisioningUpdate:
      return JSON.stringify({
        ...provisioningStartEvent(fields),
        type: AqueductEventType.ProvisioningUpdate,
      });
    case AqueductEventType.InvoicePaid:
      return JSON.stringify(invoicePaidEvent(fields));
    default:
      return JSON.stringify(
        aqueductEvent(normaliseEventType(type), { id: `obj_${Date.now()}`, ...fields }),
      );
  }
}
