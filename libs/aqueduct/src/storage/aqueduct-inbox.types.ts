import type { AqueductEventStatus } from './aqueduct-storage.types';

/** One verified request, ready to be stored. */
export interface InboxRecord {
  dedupKey: string;
  type: string;
  createdAt: Date | null;
  /** The body as JSON text, exactly as received; null when it is not JSON. */
  payloadJson: string | null;
  /** The raw bytes, stored when the event is quarantined or its body is not storable JSON. */
  rawBody: Buffer | null;
  headers: Record<string, string>;
  deliveryId: string | null;
  signedAt: Date | null;
  status: AqueductEventStatus;
  errors: string[] | null;
  /** What was assumed to accept it (a missing `createdAt`, …). */
  warnings?: string[] | null;
  /** Keep the raw bytes even when accepted: the JSON stored is not them (a body not in UTF-8). */
  keepRawBody?: boolean;
  /** Listeners that get a delivery when the event is accepted. */
  listeners: string[];
  /**
   * When set, the deliveries are created already leased to this dispatcher (which has reserved
   * room to run them at once), instead of pending for any instance to claim.
   */
  lease?: { owner: string; leaseMs: number };
}

/** An event the module writes itself (an `access.*` transition): always valid JSON, accepted. */
export interface InternalEventRecord {
  dedupKey: string;
  type: string;
  createdAt: Date;
  payload: unknown;
  listeners: string[];
}

/** An internal event the statement stored (one whose key was stored already is not). */
export interface StoredInternalEvent {
  id: string;
  dedupKey: string;
  receivedAt: Date;
}

/** What storing one event did. */
export interface InboxResult {
  id: string;
  status: AqueductEventStatus;
  /** Already stored before (by this or any instance). */
  duplicate: boolean;
  /** Validation errors of the stored row when it is quarantined. */
  errors: string[] | null;
}
