import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { type DeliveryFinish, finishOf } from '../dispatch/delivery.finish';
import { AqueductEventType, PROVISIONING_EVENT_TYPES } from '../events/aqueduct-event-types';
import type { InvoiceDto } from '../events/invoice.dto';
import type { ProvisioningDto } from '../events/provisioning.dto';
import type { AqueductEvent, AqueductListenerContext } from '../events/aqueduct-event.interface';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { isRecord } from '../utils/is-record';
import { ACCESS_EVENT_TYPES, AccessEventType } from '../events/access-event-types';
import { AqueductLedger } from './aqueduct-ledger.service';
import type { Pair } from './aqueduct-ledger.sql';
import { ProvisioningReconciler } from './provisioning.reconciler';

/** Name of the built-in listener, as stored with its deliveries. */
export const PROVISIONING_LISTENER = 'aqueduct.provisioning';

/**
 * Keeps the ledger and the host's users in step. A `provisioning.*` or `invoice.paid` event is
 * applied to the ledger (its own short transaction, so access checks see it even while the host's
 * adapter is failing), which announces the transitions of the customer's access as `access.*`
 * events. This listener's delivery of each `access.*` event then reconciles the adapter with what
 * is announced (a no-op when already in step), as does a write that announced nothing: whichever
 * delivery gets there first makes the call, a retry recomputes what is still to do, and nothing is
 * done twice. An adapter that fails fails the `access.*` delivery, not the ledger's write.
 */
@Injectable()
export class ProvisioningListener implements OnModuleInit {
  private readonly logger = new Logger('AqueductAccess');

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
      this.registry.add(PROVISIONING_LISTENER, types, (event, context) =>
        this.handle(event, context),
      );
    }
  }

  /**
   * Each step's transaction may carry the delivery's `done` (`finishOf(context)`) when nothing
   * follows it: the ledger's write, or the last pair's adapter call.
   */
  async handle(event: AqueductEvent, context: AqueductListenerContext): Promise<void> {
    const finish = finishOf(context);
    if (ACCESS_EVENT_TYPES.includes(event.type)) {
      // This listener's delivery of an `access.*` event is what brings the adapter in step with
      // the transition (its first run skips the unlocked read when the adapter must act).
      const behind = context.attempt === 1 && adapterLikelyBehind(event);
      await this.reconcileAll(pairOf(event.object), behind, finish);
      return;
    }
    const provisioning = PROVISIONING_EVENT_TYPES.includes(event.type);
    const change = provisioning
      ? await this.ledger.applyProvisioning(event as AqueductEvent<ProvisioningDto>, finish)
      : await this.ledger.applyPayment(event as AqueductEvent<InvoiceDto>, finish);
    if (provisioning && !change.applied && context.attempt === 1) {
      // Accepted and done, yet nothing changed: without a word, an operator looking for why a
      // customer's access did not move would find only a delivery marked done.
      this.logger.log(
        `${event.type} ${event.id} changed nothing: its provisioning's last applied event is as new ` +
          `or newer (createdAt ${event.createdAt?.toISOString() ?? 'absent'}; the newest event wins, ` +
          'and a replayed one changes nothing)',
      );
    }
    // A write that announced transitions leaves the adapter to their own deliveries, which start
    // as it commits: reconciling here too would be the same work, or one more read.
    if (change.transitions.length > 0) {
      return;
    }
    // A write that announced nothing catches up an adapter left behind (one read, nothing more
    // when in step).
    await this.reconcileAll(change.pairs, false, finish);
  }

  /** Reconciles the pairs in turn; the last one's locked call may carry `finish`. */
  private async reconcileAll(pairs: Pair[], behind: boolean, finish?: DeliveryFinish) {
    for (const [index, pair] of pairs.entries()) {
      await this.reconciler.reconcile(
        pair,
        behind,
        index === pairs.length - 1 ? finish : undefined,
      );
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

/**
 * Whether an `access.*` transition calls for an adapter call (a start, an end, other users): a
 * hint only, the reconciler's locked read decides. A renewal or a grace period changes dates
 * alone, and the adapter is usually in step after it.
 */
function adapterLikelyBehind(event: AqueductEvent): boolean {
  return (
    event.type === AccessEventType.Started ||
    event.type === AccessEventType.Expired ||
    (isRecord(event.object) &&
      event.object.previousOrgs !== undefined &&
      !isDeepStrictEqual(event.object.previousOrgs, event.object.provisioningOrgs))
  );
}
