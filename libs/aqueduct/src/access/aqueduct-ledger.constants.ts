import { AqueductEventType } from '../events/aqueduct-event-types';

/** Advisory lock key of the expiry job: one instance sweeps at a time. */
export const SWEEP_LOCK = 7_310_420_002;
/** First key of the two-key advisory locks serialising the writes about one invoice. */
export const INVOICE_LOCK_CLASS = 73_104_201;

/** The customer a payment names when its Invoice object names none: it pays every one (see `PAIRS_OF_INVOICE_SQL`). */
export const NO_CUSTOMER = '';
/** First key of the two-key advisory locks serialising adapter calls for one (customer, product). */
export const ADAPTER_LOCK_CLASS = 73_104_202;
/**
 * First key of the two-key advisory locks serialising the writes of one provisioning: a row lock
 * cannot hold a key that has no row yet. (73_104_203 is the alerts'.)
 */
export const PROVISIONING_LOCK_CLASS = 73_104_204;

/** Ties between events created at the same instant: an end outranks an update outranks a start. */
export const EVENT_RANK: Record<string, number> = {
  [AqueductEventType.ProvisioningStart]: 0,
  [AqueductEventType.ProvisioningUpdate]: 1,
  [AqueductEventType.ProvisioningEnd]: 2,
};
