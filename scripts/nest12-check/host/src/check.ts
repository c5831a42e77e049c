// Posts one signed provisioning.start event to the running host, then checks Postgres: the event is
// stored as accepted and the host's listener's delivery reaches 'done' (and the listener ran).
import pg from 'pg';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { SECRET } from './app.module.js';

const baseUrl = process.argv[2];
const LISTENER = 'HostProvisioning.grant';
const TIMEOUT_MS = Number(process.env.NEST12_CHECK_TIMEOUT_MS ?? 30000);

function fail(message: string): never {
  throw new Error(message);
}

const event = provisioningStartEvent({ customerId: `owner_nest12_${Date.now()}` });
const { body, headers } = signAqueductRequest(event, {
  scheme: 'standard-webhooks',
  secret: SECRET,
});
const response = await fetch(`${baseUrl}/webhooks/aqueduct`, {
  method: 'POST',
  headers,
  body,
  signal: AbortSignal.timeout(15000),
});
const text = await response.text();
if (response.status !== 200) fail(`POST /webhooks/aqueduct answered ${response.status}: ${text}`);
const ack = JSON.parse(text) as { received?: unknown; id?: unknown; duplicate?: unknown };
if (ack.received !== true || typeof ack.id !== 'string' || ack.duplicate !== undefined) {
  fail(`POST /webhooks/aqueduct answered 200 but not {received:true,id}: ${text}`);
}
const id = ack.id;
console.log(`POST /webhooks/aqueduct (standard-webhooks signed provisioning.start) -> 200 ${text}`);

const client = new pg.Client({
  connectionString: process.env.DATABASE_URL,
  connectionTimeoutMillis: 5000,
});
await client.connect();
try {
  const { rows: events } = await client.query<{ type: string; status: string }>(
    'SELECT type, status FROM aqueduct_events WHERE id = $1',
    [id],
  );
  const stored = events[0] ?? fail(`no aqueduct_events row with id ${id}`);
  if (stored.type !== 'provisioning.start' || stored.status !== 'accepted') {
    fail(
      `aqueduct_events ${id} is ${JSON.stringify(stored)}, expected provisioning.start/accepted`,
    );
  }
  console.log(`aqueduct_events ${id}: type=${stored.type} status=${stored.status}`);

  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const { rows } = await client.query<{ state: string; attempts: number; last_error: string }>(
      'SELECT state, attempts, last_error FROM aqueduct_deliveries WHERE event_id = $1 AND listener = $2',
      [id, LISTENER],
    );
    const state = rows[0]?.state ?? 'missing';
    if (state === 'done') break;
    if (state === 'dead') fail(`delivery ${id}:${LISTENER} is dead: ${rows[0].last_error}`);
    if (Date.now() > deadline) {
      fail(
        `delivery ${id}:${LISTENER} is '${state}' after ${TIMEOUT_MS} ms (${rows[0]?.last_error ?? 'no error'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const { rows: deliveries } = await client.query<{ listener: string; state: string }>(
    'SELECT listener, state FROM aqueduct_deliveries WHERE event_id = $1 ORDER BY listener',
    [id],
  );
  console.log(
    `aqueduct_deliveries: ${deliveries.map((d) => `${d.listener}=${d.state}`).join(', ')}`,
  );

  const { rows: runs } = await client.query<{
    idempotency_key: string;
    customer_id: string;
    event_status: string;
  }>(
    'SELECT idempotency_key, customer_id, event_status FROM nest12_check_runs WHERE event_id = $1',
    [id],
  );
  const run =
    runs[0] ?? fail(`delivery is done but the host listener left no nest12_check_runs row`);
  if (
    run.idempotency_key !== `${id}:${LISTENER}` ||
    run.customer_id !== event.object.customerId ||
    run.event_status !== 'accepted'
  ) {
    fail(`the host listener recorded ${JSON.stringify(run)}`);
  }
  console.log(`host listener ${LISTENER} ran once with idempotencyKey ${run.idempotency_key}`);
} finally {
  await client.end();
}
