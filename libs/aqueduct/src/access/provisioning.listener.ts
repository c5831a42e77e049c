import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { AqueductEventType, PROVISIONING_EVENT_TYPES } from '../events/aqueduct-event-types';
import type { InvoiceDto } from '../events/invoice.dto';
import type { ProvisioningDto } from '../events/provisioning.dto';
import type { AqueductEvent } from '../events/aqueduct-event.interface';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { isRecord } from '../utils/is-record';
import { ACCESS_EVENT_TYPES } from '../events/access-event-types';
import { AqueductLedger, type LedgerChange } from './aqueduct-ledger.service';
import type { Pair } from './aqueduct-ledger.sql';
import { ProvisioningReconciler } from './provisioning.reconciler';

/** Name of the built-in listener, as stored with its deliveries. */
export const PROVISIONING_LISTENER = 'aqueduct.provisioning';

/**
 * Keeps the ledger and the host's users in step. A `provisioning.*` or `invoice.paid` event is
 * applied to the ledger (its own short transaction, so access checks see it even while the host's
 * adapter is failing), which announces the transitions of the customer's access as `access.*`
 * events. Then the adapter is reconciled with what is announced, here and again on each `access.*`
 * event (a no-op when already in step): whichever delivery gets there first makes the call, a
 * retry recomputes what is still to do, and nothing is done twice.
 */
@Injectable()
export class ProvisioningListener implements OnModuleInit {
  constructor(
    private readonly ledger: AqueductLedger,
    private readonly reconciler: ProvisioningReconciler,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly registry: AqueductListenerRegistry,
  ) {}

  /** Registered unless `ledger: false` (a host that only wants the raw events). */
  onModuleInit(): void {
    if (this.options.ledger !== false) {
      const types = [
        ...PROVISIONING_EVENT_TYPES,
        AqueductEventType.InvoicePaid,
        ...ACCESS_EVENT_TYPES,
      ];
      this.registry.add(PROVISIONING_LISTENER, types, (event) => this.handle(event));
    }
  }

  async handle(event: AqueductEvent): Promise<void> {
    let change: Pick<LedgerChange, 'pairs' | 'transitions'>;
    if (PROVISIONING_EVENT_TYPES.includes(event.type)) {
      change = await this.ledger.applyProvisioning(event as AqueductEvent<ProvisioningDto>);
    } else if (event.type === AqueductEventType.InvoicePaid) {
      change = await this.ledger.applyPayment(event as AqueductEvent<InvoiceDto>);
    } else {
      change = { pairs: pairOf(event.object), transitions: [] };
    }
    // A write that announced a transition has just put the adapter out of step.
    const outOfStep = change.transitions.length > 0;
    for (const pair of change.pairs) {
      await this.reconciler.reconcile(pair, outOfStep);
    }
  }
}

/** The customer and product an `access.*` event is about. */
function pairOf(object: unknown): Pair[] {
  return isRecord(object) &&
    typeof object.customerId === 'string' &&
    typeof object.productId === 'string'
    ? [{ customerId: object.customerId, productId: object.productId }]
    : [];
}
