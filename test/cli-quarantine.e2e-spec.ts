import { Injectable } from '@nestjs/common';
import { type AqueductEvent, OnAqueductEvent } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { runCli } from './support/cli';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

/** The app's own listener, which the CLI's context does not know. */
@Injectable()
class CrmListener {
  readonly seen: string[] = [];
  @OnAqueductEvent('provisioning.start', { name: 'crm' })
  crm(event: AqueductEvent) {
    this.seen.push(event.id);
  }
}

/** The CLI on quarantined events: reprocess after a fix, or dismiss. */
describe('nestjs-aqueduct events reprocess | dismiss', () => {
  let invalidId: string;
  let fixableId: string;

  const host = useTestApp({
    aqueduct: { secrets: ['cli-secret'], dispatch: { pollIntervalMs: 100 } },
    imports: [{ module: class CrmModule {}, providers: [CrmListener] }],
  });
  beforeAll(async () => {
    const { body, headers } = signAqueductRequest(
      provisioningStartEvent({ customerId: 'owner_cli_q', startDate: 'soon' }),
      { scheme: 'shared-secret', secret: 'cli-secret' },
    );
    invalidId = (
      await request(host.app.getHttpServer()).post('/webhooks/aqueduct').set(headers).send(body)
    ).body.id;
    // Refused by an older version's rules; today's pass it.
    const fixable = JSON.stringify(provisioningStartEvent({ customerId: 'owner_cli_fixed' }));
    [{ id: fixableId }] = await host.app.get(DataSource).query(
      `INSERT INTO aqueduct_events (dedup_key, type, status, raw_body, errors)
       VALUES ('manual:cli', 'provisioning.start', 'quarantined', $1, '["an old rule"]') RETURNING id`,
      [Buffer.from(fixable)],
    );
  });

  const status = async (id: string) =>
    (
      await host.app.get(DataSource).query(`SELECT status FROM aqueduct_events WHERE id = $1`, [id])
    )[0].status;

  it('reprocess <id>: exit 1 and today’s errors while it is still invalid', async () => {
    const result = await runCli(['events', 'reprocess', invalidId, '--database-url', host.db.url]);
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
      host.db.url,
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
    // The running app creates (and runs) the deliveries of its own listeners too.
    await waitFor(
      () => host.app.get(CrmListener).seen.includes(fixableId),
      10_000,
      "the app's own listener to run on the reprocessed event",
    );
  });

  it('dismiss <id> sets it aside; a second dismiss is an error; usage errors exit 2', async () => {
    const done = await runCli(['events', 'dismiss', invalidId, '--database-url', host.db.url]);
    expect(done.code).toBe(0);
    expect(await status(invalidId)).toBe('dismissed');
    const again = await runCli(['events', 'dismiss', invalidId, '--database-url', host.db.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No quarantined event');
    const usage = await runCli(['events', 'reprocess', '--database-url', host.db.url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--all-quarantined');
  });
});
