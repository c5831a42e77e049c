/** Event types the module understands. Others are accepted and stored as they come. */
export const AqueductEventType = {
  ProvisioningStart: 'provisioning.start',
  ProvisioningEnd: 'provisioning.end',
  ProvisioningUpdate: 'provisioning.update',
  InvoicePaid: 'invoice.paid',
} as const;

export type KnownAqueductEventType = (typeof AqueductEventType)[keyof typeof AqueductEventType];

export const PROVISIONING_EVENT_TYPES: readonly string[] = [
  AqueductEventType.ProvisioningStart,
  AqueductEventType.ProvisioningEnd,
  AqueductEventType.ProvisioningUpdate,
];

/** Stored as the type of a body that names none. */
export const UNTYPED_EVENT = 'unknown';

/**
 * Aqueduct's API names events with underscores (`provisioning_start`, in `enabledEvents`) while
 * deliveries use dots (`provisioning.start`). Both are understood; the dotted form is canonical.
 */
export function normaliseEventType(type: string): string {
  const trimmed = type.trim();
  return trimmed.includes('.') ? trimmed : trimmed.replace('_', '.');
}

/** `provisioning.start` → `provisioning_start`, the form Aqueduct's `enabledEvents` uses. */
export function toApiEventName(type: string): string {
  return normaliseEventType(type).replace('.', '_');
}
