import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { Client } from 'pg';
import request from 'supertest';
import {
  CHILD_EFFECT_TABLES_SQL,
  killHard,
  startChildApp,
  type RunningChild,
} from './support/child-process';
import { createTestDatabase, type TestDatabase } from './support/database';
import { waitFor } from './support/wait';

const SECRET = 'crash-recovery-secret';

describe('(c) A process killed with SIGKILL in the middle of a listener', () => {
  let db: TestDatabase;
  let client: Client;
  const children: RunningChild[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new Client({ connectionString: db.url });
    await client.connect();
    await client.query(CHILD_EFFECT_TABLES_SQL);
  });
  afterAll(async () => {
    await Promise.all(children.map(killHard));
    await client?.end();
    await db?.drop();
  });

  it('leaves a lease that expires; a new process finishes the delivery and the effect happens once', async () => {
    const first = await startChildApp({
      DATABASE_URL: db.url,
      SECRET,
      SLOW_MS: '60000',
      LEASE_MS: '1500',
    });
    children.push(first);
    const { body, headers } = signAqueductRequest(provisioningStartEvent(), {
      scheme: 'shared-secret',
      secret: SECRET,
    });
    const res = await request(`http://127.0.0.1:${first.port}`)
      .post('/webhooks/aqueduct')
      .set(headers)
      .send(body)
      .expect(200);
    const key = `${res.body.id}:effect`;

    await waitFor(
      async () => (await client.query(`SELECT 1 FROM test_markers WHERE key = $1`, [key])).rowCount,
      15_000,
      'the listener to start',
    );
    await killHard(first);
    const { rows: active } = await client.query(
      `SELECT state, attempts FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'effect'`,
      [res.body.id],
    );
    expect(active).toEqual([{ state: 'active', attempts: 1 }]);

    const second = await startChildApp({
      DATABASE_URL: db.url,
      SECRET,
      SLOW_MS: '0',
      LEASE_MS: '1500',
    });
    children.push(second);
    await waitFor(
      async () =>
        (
          await client.query(
            `SELECT 1 FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'effect' AND state = 'done'`,
            [res.body.id],
          )
        ).rowCount,
      20_000,
      'the second process to finish the delivery',
    );
    const { rows: effects } = await client.query(`SELECT pid FROM test_effects WHERE key = $1`, [
      key,
    ]);
    expect(effects).toEqual([{ pid: second.process.pid }]);
    const { rows: done } = await client.query(
      `SELECT state, attempts, locked_by FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'effect'`,
      [res.body.id],
    );
    expect(done).toEqual([{ state: 'done', attempts: 2, locked_by: null }]);
    // The attempt log tells the story: the first process's attempt abandoned, the second's done.
    const { rows: logs } = await client.query(
      `SELECT attempt_log FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'effect'`,
      [res.body.id],
    );
    const [abandoned, finished] = logs[0].attempt_log;
    expect(logs[0].attempt_log).toHaveLength(2);
    expect(abandoned).toMatchObject({
      attempt: 1,
      outcome: 'abandoned',
      instance: expect.stringContaining(`:${first.process.pid}:`),
      error: expect.stringContaining('lease expired'),
    });
    expect(abandoned.durationMs).toBeGreaterThanOrEqual(1500);
    expect(finished).toMatchObject({
      attempt: 2,
      outcome: 'done',
      instance: expect.stringContaining(`:${second.process.pid}:`),
    });
    const { rows: markers } = await client.query(
      `SELECT pid, first_run FROM test_markers WHERE key = $1 ORDER BY at`,
      [key],
    );
    // The run retaken from the killed process is not a first run: that one may have done part of it.
    expect(markers).toEqual([
      { pid: first.process.pid, first_run: true },
      { pid: second.process.pid, first_run: false },
    ]);
  });
});
