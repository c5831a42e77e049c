/**
 * A webhook answered 503 because its insert outlived `storeTimeoutMs` (a lock, a starved pool),
 * whose insert then commits after all: Aqueduct's retry will be a duplicate, so its listeners
 * must run now. Real Postgres (a real table lock), real HTTP.
 */
import { Injectable } from '@nestjs/common';
import { OnAqueductEvent } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { Client } from 'pg';
import request from 'supertest';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'late-store-secret';
const PATH = '/webhooks/aqueduct';

const runs: string[] = [];

@Injectable()
class StartListener {
  @OnAqueductEvent('provisioning.start', { name: 'host-start' })
  onStart(event: { id: string }) {
    runs.push(event.id);
  }
}

describe('An insert slower than storeTimeoutMs (a lock, a starved pool)', () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      storeTimeoutMs: 1000,
      expiry: { enabled: false },
      dispatch: { pollIntervalMs: 100 },
    },
    imports: [{ module: class Host {}, providers: [StartListener] }],
  });

  it('the 503 is sent, the row still commits: its listeners run soon after the commit, not after leaseMs (60 s)', async () => {
    // Something holds a lock that blocks inserts for 3 s (a deploy's CREATE INDEX, a VACUUM FULL…).
    const locker = new Client({ connectionString: host.db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE aqueduct_events IN EXCLUSIVE MODE');
    const release = setTimeout(() => void locker.query('COMMIT'), 3000);
    try {
      const { body, headers } = signAqueductRequest(provisioningStartEvent(), {
        scheme: 'shared-secret',
        secret: SECRET,
      });
      const answer = await request(host.app.getHttpServer()).post(PATH).set(headers).send(body);
      expect(answer.status).toBe(503); // the documented answer: Aqueduct retries in an hour
    } finally {
      await new Promise((resolve) => setTimeout(resolve, 2500));
      clearTimeout(release);
      await locker.end();
    }
    // The insert that timed out went on and committed: the event is stored and accepted.
    const watcher = new Client({ connectionString: host.db.url });
    await watcher.connect();
    try {
      const rows = await waitFor(
        async () =>
          (
            await watcher.query(
              `SELECT e.id, d.state, d.locked_by, round(extract(epoch FROM d.run_at - now()))::int AS due_in_s
                 FROM aqueduct_events e JOIN aqueduct_deliveries d ON d.event_id = e.id
                WHERE e.type = 'provisioning.start' AND d.listener = 'host-start'`,
            )
          ).rows.filter(Boolean)[0],
        5000,
        'the late commit',
      );
      // Its listener runs within seconds of the commit (the deliveries leased to this instance for
      // the run its 503 cancelled go back to the queue), not after their 60 s lease.
      const ranWithin10s = await waitFor(() => runs.length > 0, 10_000, 'the listener').then(
        () => true,
        () => false,
      );
      expect({ ranWithin10s, delivery: rows }).toEqual({
        ranWithin10s: true,
        delivery: expect.objectContaining({ state: 'done' }),
      });
    } finally {
      await watcher.end();
    }
  }, 40_000);
});
