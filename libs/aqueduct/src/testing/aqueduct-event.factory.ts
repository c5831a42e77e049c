import { randomUUID } from 'node:crypto';
import { AqueductEventType } from '../events/aqueduct-event-types';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A Provisioning object as Aqueduct sends it (dates as ISO strings). */
export interface ProvisioningPayload {
  productId: string;
  customerId: string;
  startDate: string;
  endDate: string;
  invoiceId: string | null;
  subscriptionId: string | null;
  metadata: Record<string, unknown>;
  externalSubscriptionId: unknown;
  provisioningOrgs: unknown;
  contractStartDate: string;
  contractEndDate: string;
  gracePeriodEndDate: string;
  [extra: string]: unknown;
}

/** The envelope every Aqueduct event shares. */
export interface AqueductEventPayload<T = unknown> {
  createdAt: string;
  type: string;
  object: T;
  [extra: string]: unknown;
}

/** A realistic Provisioning object: a 30-day period from now and a 7-day grace period. */
export function provisioningObject(
  overrides: Partial<ProvisioningPayload> = {},
): ProvisioningPayload {
  const start = new Date();
  const end = new Date(start.getTime() + 30 * DAY_MS);
  const customerId = overrides.customerId ?? `owner_${randomUUID().slice(0, 8)}`;
  return {
    productId: 'prod_pro',
    customerId,
    startDate: start.toISOString(),
    endDate: end.toISOString(),
    invoiceId: `inv_${randomUUID().slice(0, 8)}`,
    subscriptionId: `sub_${randomUUID().slice(0, 8)}`,
    metadata: { customerId },
    externalSubscriptionId: null,
    provisioningOrgs: [
      {
        name: 'Acme Inc.',
        users: [
          { name: 'Ada Lovelace', email: 'ada@acme.test' },
          { name: 'Alan Turing', email: 'alan@acme.test' },
        ],
      },
    ],
    contractStartDate: start.toISOString(),
    contractEndDate: end.toISOString(),
    gracePeriodEndDate: new Date(end.getTime() + 7 * DAY_MS).toISOString(),
    ...overrides,
  };
}

function envelope<T>(type: string, object: T, createdAt = new Date()): AqueductEventPayload<T> {
  return { createdAt: createdAt.toISOString(), type, object };
}

export const provisioningStartEvent = (
  overrides: Partial<ProvisioningPayload> = {},
  createdAt?: Date,
) => envelope(AqueductEventType.ProvisioningStart, provisioningObject(overrides), createdAt);

export const provisioningEndEvent = (
  overrides: Partial<ProvisioningPayload> = {},
  createdAt?: Date,
) => envelope(AqueductEventType.ProvisioningEnd, provisioningObject(overrides), createdAt);

export const invoicePaidEvent = (overrides: Record<string, unknown> = {}, createdAt?: Date) =>
  envelope(
    AqueductEventType.InvoicePaid,
    {
      id: `inv_${randomUUID().slice(0, 8)}`,
      status: 'paid',
      total: 4900,
      currency: 'usd',
      ...overrides,
    },
    createdAt,
  );

/** Any event type, e.g. one Aqueduct adds later. */
export const aqueductEvent = <T>(type: string, object: T, createdAt?: Date) =>
  envelope(type, object, createdAt);
