import { Injectable } from '@nestjs/common';
import { type AqueductEvent, OnAqueductEvent } from 'nestjs-aqueduct';
import { aqueductEvent, provisioningStartEvent } from 'nestjs-aqueduct/testing';
import { DataSource } from 'typeorm';
import { runCli } from './support/cli';
import { postAccepted } from './support/post';
import { deliveriesSettled } from './support/subscription';
import { useTestApp } from './support/use-test-app';

/** A sender's terminal escape sequences: SGR "red" (ESC [ 31 m) and a one-byte C1 CSI. */
const EVIL = '\u001b[31m\u009b';
const CUSTOMER = `owner_${EVIL}esc`;
const TYPE = `custom${EVIL}.evil`;
const ORG = `Acme${EVIL} Inc.`;

/** Control characters a terminal could act on: C0 but tab and newline, DEL, C1. */
const controls = (text: string) =>
  // eslint-disable-next-line no-control-regex
  [...text.matchAll(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g)].map((m) =>
    m[0].charCodeAt(0).toString(16),
  );

/** A listener whose error message quotes the sender's customer id. */
@Injectable()
class Fussy {
  @OnAqueductEvent('*', { name: 'fussy' })
  handle(event: AqueductEvent) {
    const customerId = (event.object as { customerId?: unknown } | null)?.customerId;
    if (customerId === CUSTOMER) {
      throw new Error(`cannot provision ${customerId}`);
    }
  }
}

// Several CLI processes per test, each starting Nest against the database.
jest.setTimeout(180_000);

describe('nestjs-aqueduct: what a sender sent reaches the terminal escaped', () => {
  let customId: string;
  let startId: string;

  const host = useTestApp({
    aqueduct: {
      secrets: ['cli-escape-secret'],
      dispatch: { pollIntervalMs: 100, maxAttempts: 1 },
    },
    imports: [{ module: class FussyModule {}, providers: [Fussy] }],
  });
  beforeAll(async () => {
    // Signed and POSTed like Aqueduct would: an unknown type (stored as it came) and a
    // provisioning.start (which reaches the access ledger), both for the same customer.
    customId = await postAccepted(
      host.app,
      aqueductEvent(TYPE, { customerId: CUSTOMER, note: `line one\nline two${EVIL}` }),
      'cli-escape-secret',
    );
    startId = await postAccepted(
      host.app,
      provisioningStartEvent({
        customerId: CUSTOMER,
        productId: 'prod_pro',
        invoiceId: `inv_${EVIL}`,
        provisioningOrgs: [{ name: ORG, users: [{ name: 'Ada', email: 'ada@acme.test' }] }],
      }),
      'cli-escape-secret',
    );
    await deliveriesSettled(host.app);
  });

  const cli = async (...args: string[]) => {
    const result = await runCli([...args, '--database-url', host.db.url]);
    return { ...result, all: result.stdout + result.stderr };
  };

  it('the events are stored as they came (the escaping is only in what is printed)', async () => {
    const [row] = await host.app
      .get(DataSource)
      .query(
        `SELECT type, payload->'object'->>'customerId' AS customer FROM aqueduct_events WHERE id = $1`,
        [customId],
      );
    expect(row).toEqual({ type: TYPE, customer: CUSTOMER });
  });

  it('events list: the type shown escaped', async () => {
    const result = await cli('events', 'list');
    expect(result.code).toBe(0);
    expect(controls(result.all)).toEqual([]);
    expect(result.stdout).toContain('custom\\u001b[31m\\u009b.evil');
    expect(result.stdout).toContain(startId);
  });

  it('events show: type, payload, the listener error and the attempt log shown escaped', async () => {
    const result = await cli('events', 'show', customId);
    expect(result.code).toBe(0);
    expect(controls(result.all)).toEqual([]);
    expect(result.stdout).toContain(`${customId}  custom\\u001b[31m\\u009b.evil  accepted`);
    // The payload as JSON: ESC as JSON.stringify writes it, the C1 escaped the same way.
    expect(result.stdout).toContain('"customerId": "owner_\\u001b[31m\\u009besc"');
    expect(result.stdout).toContain('line one\\nline two\\u001b[31m\\u009b');
    // The listener's error (which quotes the customer id), in both tables.
    const quoted = 'cannot provision owner_\\u001b[31m\\u009besc';
    expect(result.stdout.split(quoted).length - 1).toBe(2);
    expect(result.stdout).toMatch(/fussy\s+dead\s+1/);

    const start = await cli('events', 'show', startId);
    expect(start.code).toBe(0);
    expect(controls(start.all)).toEqual([]);
    expect(start.stdout).toContain('"name": "Acme\\u001b[31m\\u009b Inc."');
  });

  it('--json stays valid JSON that parses back to what was sent, with no raw control character', async () => {
    const parsed: unknown[] = [];
    for (const args of [
      ['events', 'list'],
      ['events', 'show', customId],
      ['access', 'show', CUSTOMER],
    ]) {
      const result = await cli(...args, '--json');
      expect({ args, code: result.code }).toEqual({ args, code: 0 });
      expect({ args, controls: controls(result.all) }).toEqual({ args, controls: [] });
      parsed.push(JSON.parse(result.stdout));
    }
    const [list, shown, access] = parsed as [
      { type: string }[],
      { payload: { object: { customerId: string } } },
      { customerId: string; entitlements: { orgs: { name: string }[] }[] },
    ];
    expect(list.map((e) => e.type)).toContain(TYPE);
    expect(shown.payload.object.customerId).toBe(CUSTOMER);
    expect(access.customerId).toBe(CUSTOMER);
    expect(access.entitlements[0].orgs).toEqual([{ name: ORG, users: 1 }]);
  });

  it("access show: the customer id, the org's name, the invoice id shown escaped", async () => {
    const result = await cli('access', 'show', CUSTOMER);
    expect(result.code).toBe(0);
    expect(controls(result.all)).toEqual([]);
    expect(result.stdout).toContain('customer owner_\\u001b[31m\\u009besc at ');
    expect(result.stdout).toMatch(/orgs\s+1 \(Acme\\u001b\[31m\\u009b Inc\.\)/);
    expect(result.stdout).toContain('inv_\\u001b[31m\\u009b');
    expect(result.stdout).not.toContain('ada@acme.test');
  });

  it('error messages quoting a value are escaped too', async () => {
    // Not an event id: Postgres's error quotes it, and the CLI prints that message.
    const result = await cli('events', 'show', `nope${EVIL}`);
    expect(result.code).toBe(1);
    expect(controls(result.all)).toEqual([]);
    expect(result.stderr).toContain('nope\\u001b[31m\\u009b');

    const unknown = await cli('access', 'show', `owner_${EVIL}nobody`);
    expect(unknown.code).toBe(1);
    expect(controls(unknown.all)).toEqual([]);
    expect(unknown.stderr).toContain(
      'no access recorded for customer owner_\\u001b[31m\\u009bnobody',
    );
  });
});
