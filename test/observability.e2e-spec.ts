import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { AqueductDispatcher, AqueductHealthIndicator } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { register } from 'prom-client';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'observability-secret';

/** How a host wires the indicator into @nestjs/terminus. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly aqueduct: AqueductHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.aqueduct.isHealthy('aqueduct')]);
  }
}

/** How a host exposes prom-client's registry. */
@Controller('metrics')
class MetricsController {
  @Get()
  metrics() {
    return register.metrics();
  }
}

describe('Health and metrics', () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      health: { maxDeadDeliveries: 0 },
      dispatch: { pollIntervalMs: 100 },
    },
    imports: [TerminusModule],
    controllers: [HealthController, MetricsController],
  });

  const post = (payload: unknown, secret = SECRET) => {
    const { body, headers } = signAqueductRequest(payload, { scheme: 'shared-secret', secret });
    return request(host.app.getHttpServer()).post('/webhooks/aqueduct').set(headers).send(body);
  };

  it('/metrics exposes the documented series with plausible values after a short load', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await post(provisioningStartEvent()).expect(200)).body.id);
    }
    await post(provisioningStartEvent(), 'wrong').expect(401);
    const quarantined = await post({ type: 'provisioning.start', createdAt: 'never', object: {} });
    expect(quarantined.status).toBe(200);
    expect(quarantined.body.quarantined).toBe(true);
    const dataSource = host.app.get(DataSource);
    // The quarantine alert is raised after the 200 (off the request path): wait for it to be
    // open before waiting for the deliveries, or its own delivery may not exist yet.
    await waitFor(
      async () =>
        (
          await dataSource.query(
            `SELECT count(*)::int AS n FROM aqueduct_alerts WHERE kind = 'quarantine' AND status = 'open'`,
          )
        )[0].n === 1,
    );
    await waitFor(
      async () =>
        (
          await dataSource.query(
            `SELECT count(*)::int AS n FROM aqueduct_deliveries WHERE state <> 'done'`,
          )
        )[0].n === 0,
    );
    const text = (await request(host.app.getHttpServer()).get('/metrics').expect(200)).text;
    const value = (series: string) =>
      Number(
        text
          .split('\n')
          .find((line) => line.startsWith(`${series} `))
          ?.slice(series.length + 1),
      );
    expect(
      value('aqueduct_webhooks_received_total{type="provisioning.start",outcome="accepted"}'),
    ).toBeGreaterThanOrEqual(5);
    expect(
      value('aqueduct_webhooks_received_total{type="unknown",outcome="unauthorized"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value('aqueduct_webhooks_received_total{type="provisioning.start",outcome="quarantined"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(value('aqueduct_webhook_ack_seconds_count{outcome="accepted"}')).toBeGreaterThanOrEqual(
      5,
    );
    expect(
      value('aqueduct_deliveries_total{listener="aqueduct.provisioning",outcome="done"}'),
    ).toBeGreaterThanOrEqual(5);
    expect(
      value('aqueduct_webhooks_unauthorized_total{reason="bad-signature"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(value('aqueduct_alerts_open{kind="quarantine"}')).toBe(1);
    expect(text).toContain('aqueduct_dispatch_lag_seconds_bucket');
    expect(text).toContain('aqueduct_listener_duration_seconds_bucket');
    expect(value('aqueduct_webhook_ack_seconds_sum{outcome="accepted"}')).toBeLessThan(60);
    // A refusal is timed from the request's arrival too, not recorded as taking no time.
    expect(value('aqueduct_webhook_ack_seconds_count{outcome="unauthorized"}')).toBe(1);
    expect(value('aqueduct_webhook_ack_seconds_sum{outcome="unauthorized"}')).toBeGreaterThan(0);
  });

  it('is healthy with a running dispatcher, and down when the dead count passes the threshold', async () => {
    const up = await request(host.app.getHttpServer()).get('/health').expect(200);
    expect(up.body.info.aqueduct).toMatchObject({ status: 'up', dispatcher: 'running', dead: 0 });

    const [{ id }] = await host.app.get(DataSource).query(`SELECT id FROM aqueduct_events LIMIT 1`);
    await host.app
      .get(DataSource)
      .query(
        `INSERT INTO aqueduct_deliveries (event_id, listener, state, attempts, last_error) VALUES ($1, 'ghost', 'dead', 8, 'boom')`,
        [id],
      );
    const down = await request(host.app.getHttpServer()).get('/health').expect(503);
    expect(down.body.error.aqueduct).toMatchObject({
      status: 'down',
      dead: 1,
      problems: ['1 dead deliveries (more than 0)'],
    });
    await host.app
      .get(DataSource)
      .query(`DELETE FROM aqueduct_deliveries WHERE listener = 'ghost'`);
  });

  // After a release that renamed or removed a listener, its deliveries still pending (a retry
  // due) are never claimed: they must not hold health down for good.
  it('is not held down by a due delivery of a listener this app does not run', async () => {
    const dataSource = host.app.get(DataSource);
    const [{ id }] = await dataSource.query(`SELECT id FROM aqueduct_events LIMIT 1`);
    await dataSource.query(
      `INSERT INTO aqueduct_deliveries (event_id, listener, state, run_at) VALUES ($1, 'retired', 'pending', now() - interval '1 day')`,
      [id],
    );
    try {
      const up = await request(host.app.getHttpServer()).get('/health').expect(200);
      expect(up.body.info.aqueduct).toMatchObject({ status: 'up', oldestPendingAgeMs: 0 });
    } finally {
      await dataSource.query(`DELETE FROM aqueduct_deliveries WHERE listener = 'retired'`);
    }
  });

  it('is down when the dispatcher stops', async () => {
    await host.app.get(AqueductDispatcher).stop();
    const down = await request(host.app.getHttpServer()).get('/health').expect(503);
    expect(down.body.error.aqueduct).toMatchObject({
      status: 'down',
      dispatcher: 'stopped',
      problems: ['dispatcher not running'],
    });
    await host.app.get(AqueductDispatcher).start();
    await request(host.app.getHttpServer()).get('/health').expect(200);
  });
});
