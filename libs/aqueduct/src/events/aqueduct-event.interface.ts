import type { InvoiceDto } from './invoice.dto';
import type { ProvisioningDto } from './provisioning.dto';

/** An event as listeners receive it: the stored envelope, its object typed for known types. */
export interface AqueductEvent<TObject = unknown, TType extends string = string> {
  /** The module's id of the event (the inbox row). */
  id: string;
  type: TType;
  /**
   * The envelope's `createdAt` (when Aqueduct created it). A body without one is stored with its
   * arrival time instead (with a warning), so every run orders the event the same.
   */
  createdAt: Date | null;
  receivedAt: Date;
  /** The event's object: a `ProvisioningDto` / `InvoiceDto` for known types, else as received. */
  object: TObject;
  /** The whole body as received, unknown fields included. */
  payload: Record<string, unknown>;
}

export type ProvisioningEvent = AqueductEvent<
  ProvisioningDto,
  'provisioning.start' | 'provisioning.end' | 'provisioning.update'
>;
export type InvoicePaidEvent = AqueductEvent<InvoiceDto, 'invoice.paid'>;

/** What a listener is told about the delivery it is running. */
export interface AqueductListenerContext {
  /** `<eventId>:<listener>`: names this delivery in the events service and the CLI. */
  deliveryId: string;
  /**
   * Stable across retries and replays of this event for this listener: pass it to anything that
   * must not happen twice (an email, an API call with an Idempotency-Key, a unique row).
   */
  idempotencyKey: string;
  eventId: string;
  listener: string;
  /** 1 for the first run, 2 for the first retry, … (from 1 again after a replay or a redrive). */
  attempt: number;
  /**
   * No run of this delivery started before this one, anywhere: not a retry, a replay or a redrive,
   * nor a run retaken from an instance that died or handed back at shutdown. A listener may skip
   * its own "done already?" read then; when false, an earlier run may have done part of the work.
   * Always set by the dispatcher; optional so that contexts written by hand (in tests) stay valid,
   * and absent means false.
   */
  firstRun?: boolean;
}

/** A listener method: `(event, context) => Promise<void> | void`. Throwing schedules a retry. */
export type AqueductListenerHandler = (
  event: AqueductEvent<any>,
  context: AqueductListenerContext,
) => unknown;
