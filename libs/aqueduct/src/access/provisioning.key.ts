import { createHash } from 'node:crypto';
import type { ProvisioningDto } from '../events/provisioning.dto';

/** Longer keys are hashed: a btree entry has a size limit, and ids come from the sender. */
const MAX_KEY_BYTES = 512;

/**
 * The key of a provisioning: its own `id` when the object has one; else its invoice (each invoice
 * creates its own provisioning, and one invoice may cover several products); else its period
 * (customer, product, subscription and start date), which the start and the end of one period
 * share even when the end moves the end date (a cancellation).
 */
export function provisioningKey(object: ProvisioningDto): string {
  const id = object.id;
  const key =
    (typeof id === 'string' && id !== '') || typeof id === 'number'
      ? `id:${id}`
      : object.invoiceId
        ? `invoice:${object.customerId}:${object.productId}:${object.invoiceId}`
        : `period:${object.customerId}:${object.productId}:${object.subscriptionId ?? '-'}:${object.startDate.getTime()}`;
  return Buffer.byteLength(key) > MAX_KEY_BYTES
    ? `sha256:${createHash('sha256').update(key).digest('hex')}`
    : key;
}
