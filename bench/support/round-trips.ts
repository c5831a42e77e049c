import { Client } from 'pg';

/**
 * Counts the statements this process sends to Postgres, each a round trip (a multi-statement
 * simple query counts once): `pg`'s `Client.query`, through which TypeORM and `pg`'s pool go too.
 * Exact and the same on any machine, unlike CPU time on a shared one. Installed by the bench
 * server only.
 */
let sent = 0;

export function countRoundTrips(): void {
  const query = Client.prototype.query;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    sent++;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof Client.prototype.query;
}

/** Statements sent since `countRoundTrips()`. */
export const roundTrips = (): number => sent;
