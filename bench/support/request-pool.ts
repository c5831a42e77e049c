import type { HttpRequest } from './load';

/**
 * Requests made ahead of the run, handed out once each, then made on demand if the pool runs dry.
 *
 * Why: building and signing one Aqueduct event costs ~35 µs (measured: provisioningStartEvent +
 * signAqueductRequest, which re-decodes the secret and runs HMAC-SHA256 each time). Done inside
 * autocannon's setupRequest that is CPU taken from the load generator, on a 2-core machine that
 * also runs the server and Postgres; handing out a prepared request costs next to nothing.
 * Measured there (10 s runs, DATABASE_URL): 860-880 req/s on the webhook route when signing
 * in-run, 900-1010 req/s with the pool, so the pool it is.
 */
export class RequestPool {
  private readonly prepared: (HttpRequest | undefined)[];
  private index = 0;
  /** Requests that had to be made during the run because the pool was used up. */
  madeOnDemand = 0;

  constructor(
    private readonly make: (sequence: number) => HttpRequest,
    size: number,
  ) {
    this.prepared = Array.from({ length: size }, (_, sequence) => make(sequence));
  }

  get size(): number {
    return this.prepared.length;
  }

  next(): HttpRequest {
    const sequence = this.index++;
    if (sequence < this.prepared.length) {
      const request = this.prepared[sequence] as HttpRequest;
      this.prepared[sequence] = undefined; // Sent once only; let it be collected.
      return request;
    }
    this.madeOnDemand++;
    return this.make(sequence);
  }
}
