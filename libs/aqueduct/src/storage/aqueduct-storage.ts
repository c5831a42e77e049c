import { CreateAqueductEvents1763800000000 } from './migrations/1763800000000-create-aqueduct-events';
import { CreateAqueductDeliveries1763800001000 } from './migrations/1763800001000-create-aqueduct-deliveries';
import { CreateAqueductEntitlements1763800002000 } from './migrations/1763800002000-create-aqueduct-entitlements';
import { CreateAqueductEmails1763800003000 } from './migrations/1763800003000-create-aqueduct-emails';
import { IndexAqueductEventsForConsole1763800004000 } from './migrations/1763800004000-index-aqueduct-events-for-console';
import { AddAqueductDeliveryAttemptLog1763800005000 } from './migrations/1763800005000-add-aqueduct-delivery-attempt-log';
import { SplitAqueductAccess1763800006000 } from './migrations/1763800006000-split-aqueduct-access';
import { QuarantineAqueductEvents1763800007000 } from './migrations/1763800007000-quarantine-aqueduct-events';
import { NotifyAqueductAccessChanges1763800008000 } from './migrations/1763800008000-notify-aqueduct-access-changes';
import { IndexAqueductLedgerEventReferences1763800009000 } from './migrations/1763800009000-index-aqueduct-ledger-event-references';
import { TrackAqueductProvisioningOmissions1763800010000 } from './migrations/1763800010000-track-aqueduct-provisioning-omissions';
import { RecordAqueductReceiverGaps1763800011000 } from './migrations/1763800011000-record-aqueduct-receiver-gaps';
import { KeyAqueductInvoicePaymentsByCustomer1763800012000 } from './migrations/1763800012000-key-aqueduct-invoice-payments-by-customer';
import { RegisterAqueductListeners1763800013000 } from './migrations/1763800013000-register-aqueduct-listeners';
import { RecordAqueductInstances1763800014000 } from './migrations/1763800014000-record-aqueduct-instances';

/**
 * The module's tables are created by its migrations and read and written with SQL by their one
 * owner each (see docs/architecture.md): no TypeORM entity describes them.
 * @deprecated Empty since 0.3; kept so that `entities: [...aqueductEntities]` still compiles.
 */
export const aqueductEntities: never[] = [];

/** Migrations creating the module's tables, in order. Add them to the DataSource's `migrations`. */
export const aqueductMigrations = [
  CreateAqueductEvents1763800000000,
  CreateAqueductDeliveries1763800001000,
  CreateAqueductEntitlements1763800002000,
  CreateAqueductEmails1763800003000,
  IndexAqueductEventsForConsole1763800004000,
  AddAqueductDeliveryAttemptLog1763800005000,
  SplitAqueductAccess1763800006000,
  QuarantineAqueductEvents1763800007000,
  NotifyAqueductAccessChanges1763800008000,
  IndexAqueductLedgerEventReferences1763800009000,
  TrackAqueductProvisioningOmissions1763800010000,
  RecordAqueductReceiverGaps1763800011000,
  KeyAqueductInvoicePaymentsByCustomer1763800012000,
  RegisterAqueductListeners1763800013000,
  RecordAqueductInstances1763800014000,
];

/**
 * A column the newest migration adds: checked at start-up, so that a host that upgraded the module
 * without running its new migrations stops there, naming it, instead of failing every ledger write.
 * Moves with each migration that changes what the module's statements use.
 */
export const AQUEDUCT_NEWEST_COLUMN = {
  table: 'aqueduct_instances',
  column: 'event_types',
  migration: RecordAqueductInstances1763800014000.name,
};

/** Tables the module needs; checked at start-up. */
export const AQUEDUCT_TABLES = [
  'aqueduct_events',
  'aqueduct_deliveries',
  'aqueduct_provisionings',
  'aqueduct_access',
  'aqueduct_invoice_payments',
  'aqueduct_emails',
  'aqueduct_alerts',
];
