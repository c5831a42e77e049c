import type { Logger } from '@nestjs/common';
import type { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import type { InboxResult } from '../storage/aqueduct-inbox.service';
import { printable } from '../utils/printable';

/** Most errors carried in the alert's details (the event keeps them all). */
const MAX_ALERTED_ERRORS = 10;

/**
 * Logs a newly quarantined event, and raises the `quarantine` alert on the first of an incident
 * (while it is open, the others are only logged). A copy of an event already stored says nothing.
 */
export function reportQuarantined(
  alerts: AqueductAlerts,
  logger: Logger,
  result: InboxResult,
  type: string,
  errors: string[],
): void {
  if (result.duplicate) {
    return;
  }
  logger.warn(printable(`Quarantined ${type} event ${result.id}: ${errors.join('; ')}`));
  if (!alerts.isOpen('quarantine')) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    void alerts
      .raise(
        'quarantine',
        `An authentic ${type} event (${result.id}) was quarantined: ${errors[0]}${more}. ` +
          `Reprocess it once fixed (nestjs-aqueduct events reprocess ${result.id}) or dismiss it.`,
        { eventId: result.id, type, errors: errors.slice(0, MAX_ALERTED_ERRORS) },
      )
      .catch((error) => logger.error(`Could not raise the alert: ${error.message}`));
  }
}
