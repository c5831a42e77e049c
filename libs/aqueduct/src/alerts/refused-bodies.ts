import { createHash } from 'node:crypto';

/**
 * How long a refused request is remembered by its body: past Aqueduct's last retry, 43 hours after
 * its first attempt.
 */
const REFUSED_MEMORY_MS = 48 * 3_600_000;

/**
 * Most refused bodies remembered per instance, the oldest forgotten first (32-byte digests: about
 * 400 KB in all). A storm of refusals that pushes a delivery out opens the alert on its own.
 */
const REFUSED_MEMORY_SIZE = 4_096;

/**
 * The bodies of refused webhook requests, by SHA-256, to know a sender retrying one: Aqueduct
 * resends a delivery's body as it was on each retry (1, 6, 12 and 24 hours apart). Per instance, in
 * memory: nothing is written for a request no one has authenticated.
 */
export class RefusedBodies {
  /** Digest (base64) → when that body was first refused, oldest first. */
  private readonly firstRefused = new Map<string, number>();

  /**
   * When the same body was first refused, if it was within the memory and reads as an Aqueduct
   * event (a sender retrying a delivery, not a probe posting one fixed body); otherwise remembers
   * it now. An empty body is no one's delivery.
   */
  refusedBefore(body: Buffer | undefined, now: number): number | undefined {
    if (!body || body.length === 0) {
      return undefined;
    }
    const key = createHash('sha256').update(body).digest('base64');
    const first = this.firstRefused.get(key);
    if (first !== undefined && now - first <= REFUSED_MEMORY_MS) {
      return looksLikeEvent(body) ? first : undefined;
    }
    this.firstRefused.delete(key);
    this.firstRefused.set(key, now);
    if (this.firstRefused.size > REFUSED_MEMORY_SIZE) {
      this.firstRefused.delete(this.firstRefused.keys().next().value as string);
    }
    return undefined;
  }
}

/** Whether a refused body reads as an Aqueduct event: a JSON object with a `type`. */
function looksLikeEvent(body: Buffer): boolean {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8').replace(/^\uFEFF/, ''));
    return typeof (parsed as { type?: unknown } | null)?.type === 'string';
  } catch {
    return false;
  }
}
