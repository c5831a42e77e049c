/**
 * What needs a person, and what each kind means:
 * - `verification`: requests keep failing verification (a wrong secret or scheme: every delivery
 *   gets 401, and Aqueduct disables the endpoint after its retries);
 * - `quarantine`: authentic events the module could not understand are waiting to be reprocessed
 *   (after a fix) or dismissed;
 * - `endpoint`: Aqueduct's endpoint list does not point at this app, or misses event types it
 *   listens to;
 * - `silence`: nothing has arrived from Aqueduct since a known paid period ended, hours ago
 *   (Aqueduct disabled the endpoint, or cannot reach this app).
 */
export type AlertKind = 'verification' | 'quarantine' | 'endpoint' | 'silence';

/** Every kind, as health, metrics and each instance's view of open alerts list them. */
export const ALERT_KINDS: readonly AlertKind[] = [
  'verification',
  'quarantine',
  'endpoint',
  'silence',
];

export { ALERT_RAISED_EVENT } from '../events/module-event-types';

/** An open alert, as health, the console and `alert.raised` listeners see it. */
export interface AqueductAlert {
  kind: AlertKind;
  /** One line for a person: what is wrong and what to do. */
  reason: string;
  /** What was seen (counts, header names, event ids, …); never a secret or a header value. */
  details: Record<string, unknown>;
  /** Times it was raised while open (one per instance and streak, or per event). */
  occurrences: number;
  raisedAt: Date;
  lastSeenAt: Date;
}
