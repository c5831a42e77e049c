import type { INestApplication } from '@nestjs/common';
import { AqueductEventCommands, type PruneRequest } from 'nestjs-aqueduct';
import { Client } from 'pg';
import { register } from 'prom-client';
import { DataSource } from 'typeorm';
import { PruneJob } from '../libs/aqueduct/src/admin/retention.job';
import { RETENTION_LOCK } from '../libs/aqueduct/src/storage/aqueduct-storage.constants';
import { runCli } from './support/cli';
import { LogCapture } from './support/log-capture';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const DAY_MS = 86_400_000;
const THIRTY_DAYS: PruneRequest = { olderThanMs: 30 * DAY_MS };

interface Seed {
  /** Days since it was received. */
  age: number;
  status?: 'accepted' | 'quarantined' | 'dismissed';
  /** One delivery per state. */
  deliveries?: string[];
}

/** Stores an event `age` days old with deliveries in the given states; returns its id. */
async function seed(app: INestApplication, { age, status = 'accepted', deliveries = [] }: Seed) {
  const db = app.get(DataSource);
  const [{ id }] = await db.query(
    `INSERT INTO aqueduct_events (dedup_key, type, status, payload, received_at)
     VALUES (gen_random_uuid()::text, 'provisioning.start', $1, '{}', now() - $2 * interval '1 day')
     RETURNING id`,
    [status, age],
  );
  for (const [index, state] of deliveries.entries()) {
    await db.query(
      `INSERT INTO aqueduct_deliveries (event_id, listener, state, attempts) VALUES ($1, $2, $3, 1)`,
      [id, `listener-${index}`, state],
    );
  }
  return id as string;
}

async function existing(app: INestApplication, ids: string[]): Promise<string[]> {
  const rows: { id: string }[] = await app
    .get(DataSource)
    .query(`SELECT id FROM aqueduct_events WHERE id = ANY($1::uuid[])`, [ids]);
  return rows.map((row) => row.id).sort();
}

async function deliveriesOf(app: INestApplication, id: string): Promise<number> {
  const [{ n }] = await app
    .get(DataSource)
    .query(`SELECT count(*)::int AS n FROM aqueduct_deliveries WHERE event_id = $1`, [id]);
  return n;
}

/** A session of its own on the test database (another instance, an operator's transaction). */
async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

describe('Retention: prune', () => {
  const host = useTestApp({
    aqueduct: { secrets: ['retention-secret'], dispatch: { enabled: false } },
  });
  const commands = () => host.app.get(AqueductEventCommands);

  afterEach(async () => {
    const db = host.app.get(DataSource);
    for (const table of ['events', 'provisionings', 'invoice_payments', 'emails']) {
      await db.query(`DELETE FROM aqueduct_${table}`);
    }
  });

  it('deletes old finished events with their deliveries, keeps everything still needed', async () => {
    const app = host.app;
    const gone = {
      done: await seed(app, { age: 40, deliveries: ['done', 'done'] }),
      noListener: await seed(app, { age: 40 }),
      dismissed: await seed(app, { age: 40, status: 'dismissed' }),
      // The ledger's references that can no longer matter: a provisioning that ended before the
      // cutoff, and the payment of its invoice.
      endedLongAgo: await seed(app, { age: 90, deliveries: ['done'] }),
      paidLongAgo: await seed(app, { age: 90, deliveries: ['done'] }),
    };
    const kept = {
      recent: await seed(app, { age: 10, deliveries: ['done'] }),
      pending: await seed(app, { age: 40, deliveries: ['done', 'pending'] }),
      active: await seed(app, { age: 40, deliveries: ['active'] }),
      dead: await seed(app, { age: 40, deliveries: ['done', 'dead'] }),
      quarantined: await seed(app, { age: 40, status: 'quarantined' }),
      provisioned: await seed(app, { age: 40, deliveries: ['done'] }),
      paid: await seed(app, { age: 40, deliveries: ['done'] }),
      paidRunning: await seed(app, { age: 40, deliveries: ['done'] }),
    };
    const db = app.get(DataSource);
    await db.query(
      `INSERT INTO aqueduct_provisionings (key, customer_id, product_id, start_date, end_date,
         access_until, last_event_id, last_event_type, last_event_at)
       VALUES ('id:prov_1', 'owner_1', 'prod_1', now(), now(), now(), $1, 'provisioning.start', now())`,
      [kept.provisioned],
    );
    await db.query(
      `INSERT INTO aqueduct_provisionings (key, customer_id, product_id, invoice_id, start_date, end_date,
         access_until, last_event_id, last_event_type, last_event_at)
       VALUES ('id:prov_old', 'owner_1', 'prod_1', 'inv_old', now() - interval '120 days',
               now() - interval '90 days', now() - interval '83 days', $1, 'provisioning.end',
               now() - interval '90 days'),
              ('id:prov_running', 'owner_2', 'prod_1', 'inv_running', now() - interval '40 days',
               now() + interval '325 days', now() + interval '332 days', $2, 'provisioning.start',
               now() - interval '10 days')`,
      [gone.endedLongAgo, kept.recent],
    );
    // A payment waiting for its provisioning; one whose provisioning ended long ago; one whose
    // provisioning (a year paid in advance) still gives access.
    await db.query(
      `INSERT INTO aqueduct_invoice_payments (invoice_id, paid_at, event_id)
       VALUES ('inv_1', now(), $1), ('inv_old', now() - interval '90 days', $2),
              ('inv_running', now() - interval '40 days', $3)`,
      [kept.paid, gone.paidLongAgo, kept.paidRunning],
    );
    await db.query(
      `INSERT INTO aqueduct_emails (key, event_id, template, recipient, status)
       VALUES ('mail-1', $1, 'access-started', 'a@example.com', 'sent')`,
      [gone.done],
    );
    const all = [...Object.values(gone), ...Object.values(kept)];

    const dryRun = await commands().prune({ ...THIRTY_DAYS, dryRun: true });
    expect(dryRun).toMatchObject({ ran: true, dryRun: true, events: 5, deliveries: 4, batches: 0 });
    expect(await existing(app, all)).toEqual([...all].sort());

    const result = await commands().prune(THIRTY_DAYS);
    expect(result).toMatchObject({ ran: true, dryRun: false, events: 5, deliveries: 4 });
    expect(Math.abs(result.cutoff.getTime() - (Date.now() - 30 * DAY_MS))).toBeLessThan(60_000);
    expect(await existing(app, all)).toEqual(Object.values(kept).sort());
    expect(await deliveriesOf(app, gone.done)).toBe(0);
    expect(await deliveriesOf(app, kept.pending)).toBe(2);
    // The email dedup record stays: a replay must not mail twice.
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM aqueduct_emails`);
    expect(n).toBe(1);
  });

  it('deletes dead and quarantined events only when asked', async () => {
    const dead = await seed(host.app, { age: 40, deliveries: ['dead'] });
    const quarantined = await seed(host.app, { age: 40, status: 'quarantined' });
    expect((await commands().prune(THIRTY_DAYS)).events).toBe(0);

    expect(await commands().prune({ ...THIRTY_DAYS, includeDead: true })).toMatchObject({
      events: 1,
      deliveries: 1,
    });
    expect(await existing(host.app, [dead, quarantined])).toEqual([quarantined]);

    expect((await commands().prune({ ...THIRTY_DAYS, includeQuarantined: true })).events).toBe(1);
    expect(await existing(host.app, [quarantined])).toEqual([]);
  });

  it('walks the old events once, in batches, past those still needed', async () => {
    for (let i = 0; i < 25; i++) {
      await seed(host.app, { age: 30.5 + i, deliveries: ['done'] });
    }
    const partial = await commands().prune({ olderThanMs: 45 * DAY_MS, batchSize: 4 });
    // Ages 45.5 to 54.5 (10 events): batches of 4, 4, 2.
    expect(partial).toMatchObject({ events: 10, deliveries: 10, batches: 3 });
    expect(await commands().prune({ ...THIRTY_DAYS, batchSize: 5 })).toMatchObject({
      events: 15,
      batches: 4, // 5, 5, 5, then an empty one that ends it
    });
    // Nine events still needed, the oldest of all, then four that may go: each batch goes on
    // after the last one it looked at, so the run reads the needed ones once, not once a batch.
    const needed: string[] = [];
    for (let i = 0; i < 9; i++) {
      needed.push(await seed(host.app, { age: 60 + i, deliveries: ['pending'] }));
    }
    for (let i = 0; i < 4; i++) {
      await seed(host.app, { age: 40 + i, deliveries: ['done'] });
    }
    expect(await commands().prune({ ...THIRTY_DAYS, batchSize: 4 })).toMatchObject({
      events: 4,
      batches: 4, // 4 needed; 4 needed; 1 needed and 3 going; 1 going
    });
    expect(await existing(host.app, needed)).toEqual([...needed].sort());
  });

  it('does nothing while another instance holds the retention lock', async () => {
    const id = await seed(host.app, { age: 40, deliveries: ['done'] });
    const other = await connect(host.db.url);
    try {
      await other.query(`SELECT pg_advisory_lock($1)`, [RETENTION_LOCK]);
      expect(await commands().prune(THIRTY_DAYS)).toMatchObject({ ran: false, events: 0 });
      expect(await existing(host.app, [id])).toEqual([id]);
      await other.query(`SELECT pg_advisory_unlock($1)`, [RETENTION_LOCK]);
      expect(await commands().prune(THIRTY_DAYS)).toMatchObject({ ran: true, events: 1 });
    } finally {
      await other.end();
    }
  });

  it('two instances pruning at once delete each event once, with no error', async () => {
    for (let i = 0; i < 60; i++) {
      await seed(host.app, { age: 40, deliveries: ['done'] });
    }
    const request = { ...THIRTY_DAYS, batchSize: 5 };
    const results = await Promise.all([commands().prune(request), commands().prune(request)]);
    const first = results[0].events + results[1].events;
    // Whoever lost the lock mid-way stopped; whatever is left goes at the next run.
    const rest = await commands().prune(request);
    expect(first + rest.events).toBe(60);
    expect(results.some((result) => result.ran)).toBe(true);
  });

  it('keeps an event whose delivery a replay restarts while the prune waits for it', async () => {
    const id = await seed(host.app, { age: 40, deliveries: ['done'] });
    const operator = await connect(host.db.url);
    try {
      // A replay in flight: the delivery is being restarted, not yet committed.
      await operator.query('BEGIN');
      await operator.query(
        `UPDATE aqueduct_deliveries SET state = 'pending', attempts = 0 WHERE event_id = $1`,
        [id],
      );
      const pruning = commands().prune(THIRTY_DAYS);
      await waitFor(async () => {
        const [{ n }] = await host.app
          .get(DataSource)
          .query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
          );
        return n > 0;
      });
      await operator.query('COMMIT');
      // Its delivery is not counted as deleted: it was locked, then kept.
      expect(await pruning).toMatchObject({ ran: true, events: 0, deliveries: 0 });
      expect(await existing(host.app, [id])).toEqual([id]);
      expect(await deliveriesOf(host.app, id)).toBe(1);
    } finally {
      await operator.end();
    }
  });

  it('refuses a request without a positive age or batch size', async () => {
    await expect(commands().prune({ olderThanMs: 0 })).rejects.toThrow(RangeError);
    await expect(commands().prune({ ...THIRTY_DAYS, batchSize: 0 })).rejects.toThrow(RangeError);
  });

  it('the retention job is off unless enabled', () => {
    expect(host.app.get(PruneJob).cronJob).toBeUndefined();
  });
});

describe('Retention: the job', () => {
  const logs = new LogCapture();
  const host = useTestApp({
    aqueduct: {
      secrets: ['retention-secret'],
      dispatch: { enabled: false },
      retention: { enabled: true, olderThanDays: 7, cron: '0 0 1 1 *', batchSize: 2 },
    },
    logger: logs,
  });

  it('runs on its cron with the configured options, logs one line of counts, counts a metric', async () => {
    const job = host.app.get(PruneJob);
    expect(job.cronJob?.isActive).toBe(true);
    const metric = async () =>
      (await register.getSingleMetric('aqueduct_events_pruned_total')?.get())?.values[0]?.value ??
      0;
    const before = await metric();
    for (const age of [8, 9, 10]) {
      await seed(host.app, { age, deliveries: ['done'] });
    }
    const recent = await seed(host.app, { age: 6, deliveries: ['done'] });

    expect(await job.run()).toMatchObject({ ran: true, events: 3, deliveries: 3, batches: 2 });
    expect(await existing(host.app, [recent])).toEqual([recent]);
    const lines = logs.matching(/^AqueductRetention: /);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^AqueductRetention: Pruned 3 events \(3 deliveries\) received before \S+Z in 2 batches, \d+ ms$/,
    );
    expect((await metric()) - before).toBe(3);
    expect(await register.metrics()).toContain('aqueduct_prune_duration_seconds_count');
  });
});

describe('nestjs-aqueduct events prune', () => {
  const host = useTestApp({
    aqueduct: { secrets: ['retention-secret'], dispatch: { enabled: false } },
  });

  it('counts with --dry-run, then deletes; exit 0', async () => {
    const old = await seed(host.app, { age: 3, deliveries: ['done', 'done'] });
    const dead = await seed(host.app, { age: 3, deliveries: ['dead'] });
    const recent = await seed(host.app, { age: 1, deliveries: ['done'] });
    const cli = (...args: string[]) =>
      runCli(['events', 'prune', ...args, '--database-url', host.db.url]);

    const dryRun = await cli('--older-than', '48h', '--dry-run', '--json');
    expect(dryRun.code).toBe(0);
    expect(JSON.parse(dryRun.stdout)).toMatchObject({ dryRun: true, events: 1, deliveries: 2 });
    expect(await existing(host.app, [old, dead, recent])).toHaveLength(3);

    const human = await cli('--older-than', '2d', '--include-dead', '--batch-size', '1');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^deleted 2 events \(3 deliveries\) received before \S+Z\n$/);
    expect(await existing(host.app, [old, dead, recent])).toEqual([recent]);
  });

  it('usage errors exit 2 and name the option', async () => {
    const prune = (...args: string[]) =>
      runCli(['events', 'prune', ...args, '--database-url', host.db.url]);
    const bad = await prune('--older-than', '30');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--older-than must be a whole number of days, hours or minutes');
    const missing = await prune();
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--older-than');
    const batch = await prune('--older-than', '30d', '--batch-size', '0');
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain('--batch-size must be a positive integer');
    const pause = await prune('--older-than', '30d', '--pause-ratio', 'slow');
    expect(pause.code).toBe(2);
    expect(pause.stderr).toContain('--pause-ratio must be a number from 0 to 10, got "slow"');
  });
});
