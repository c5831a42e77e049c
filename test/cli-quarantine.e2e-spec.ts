import type { INestApplication } from '@nestjs/common';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { runCli } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/database';

/** The CLI on quarantined events: reprocess after a fix, or dismiss. */
describe('nestjs-aqueduct events reprocess | dismiss', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let invalidId: string;
  let fixableId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: { secrets: ['cli-secret'], dispatch: { pollIntervalMs: 100 } },
    });
    const { body, headers } = signAqueductRequest(
      provisioningStartEvent({ customerId: 'owner_cli_q', startDate: 'soon' }),
      { scheme: 'shared-secret', secret: 'cli-secret' },
    );
    invalidId = (
      await request(app.getHttpServer()).post('/webhooks/aqueduct').set(headers).send(body)
    ).body.id;
    // Refused by an older version's rules; today's pass it.
    const fixable = JSON.stringify(provisioningStartEvent({ customerId: 'owner_cli_fixed' }));
    [{ id: fixableId }] = await app.get(DataSource).query(
      `INSERT INTO aqueduct_events (dedup_key, type, status, raw_body, errors)
       VALUES ('manual:cli', 'provisioning.start', 'quarantined', $1, '["an old rule"]') RETURNING id`,
      [Buffer.from(fixable)],
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const status = async (id: string) =>
    (await app.get(DataSource).query(`SELECT status FROM aqueduct_events WHERE id = $1`, [id]))[0]
      .status;

  it('reprocess <id>: exit 1 and today’s errors while it is still invalid', async () => {
    const result = await runCli(['events', 'reprocess', invalidId, '--database-url', db.url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('quarantined');
    expect(result.stdout).toContain('object.startDate');
    expect(await status(invalidId)).toBe('quarantined');
  });

  it('reprocess --all-quarantined accepts what passes today, and lists each', async () => {
    const result = await runCli([
      'events',
      'reprocess',
      '--all-quarantined',
      '--database-url',
      db.url,
      '--json',
    ]);
    expect(result.code).toBe(0);
    const results = JSON.parse(result.stdout) as { id: string; status: string }[];
    expect(results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: fixableId, status: 'accepted' }),
        expect.objectContaining({ id: invalidId, status: 'quarantined' }),
      ]),
    );
    expect(await status(fixableId)).toBe('accepted');
  });

  it('dismiss <id> sets it aside; a second dismiss is an error; usage errors exit 2', async () => {
    const done = await runCli(['events', 'dismiss', invalidId, '--database-url', db.url]);
    expect(done.code).toBe(0);
    expect(await status(invalidId)).toBe('dismissed');
    const again = await runCli(['events', 'dismiss', invalidId, '--database-url', db.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No quarantined event');
    const usage = await runCli(['events', 'reprocess', '--database-url', db.url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--all-quarantined');
  });
});
