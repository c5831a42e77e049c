import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { ProvisioningAdapter, ProvisioningGrant } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { deliveriesSettled } from './support/subscription';
import { useTestApp } from './support/use-test-app';

const SECRET = `whsec_${Buffer.from('adapter-pool-secret-adapter-pool').toString('base64')}`;
/** Fewer connections than the dispatcher runs deliveries at once. */
const POOL_SIZE = 4;
const CONCURRENCY = 8;
const CUSTOMERS = 24;

const provisioned = new Set<string>();

/**
 * A host's adapter as hosts write them: it queries its own tables through the app's one
 * DataSource, so each call needs a connection of the pool the module's own work uses too.
 */
@Injectable()
class SameDatabaseAdapter implements ProvisioningAdapter {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async provision(grant: ProvisioningGrant): Promise<void> {
    await this.dataSource.query('SELECT pg_sleep(0.02)');
    provisioned.add(grant.customerId);
  }
  async deprovision(): Promise<void> {}
  async update(): Promise<void> {}
}

describe('An adapter that uses the app’s own database pool (real Postgres)', () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      verification: { scheme: 'standard-webhooks' },
      provisioningAdapter: SameDatabaseAdapter,
      dispatch: { concurrency: CONCURRENCY, pollIntervalMs: 50 },
      expiry: { enabled: false },
    },
    extra: { max: POOL_SIZE },
  });

  it('never holds every connection while adapter calls wait for one: all provisioned, all 2xx', async () => {
    const answers = await Promise.all(
      Array.from({ length: CUSTOMERS }, (_, i) => {
        const event = provisioningStartEvent({ customerId: `cus_pool_${i}` });
        const { body, headers } = signAqueductRequest(event, {
          scheme: 'standard-webhooks',
          secret: SECRET,
        });
        return request(host.app.getHttpServer()).post('/webhooks/aqueduct').set(headers).send(body);
      }),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(CUSTOMERS).fill(200));
    await deliveriesSettled(host.app, 30_000);
    expect(provisioned.size).toBe(CUSTOMERS);
  });
});
