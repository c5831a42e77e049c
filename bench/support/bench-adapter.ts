import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { ProvisioningAdapter, ProvisioningGrant } from 'nestjs-aqueduct';
import type { DataSource } from 'typeorm';

/** The host's table the adapter writes: one row per customer's access, as a user service would. */
export const BENCH_ACCOUNTS_TABLE = 'bench_accounts';

/**
 * A provisioning adapter doing a small amount of real work, as a host's does: one upsert of the
 * customer's account and its user count per call, in the host's own table, with the idempotency
 * key the module passes.
 */
@Injectable()
export class BenchProvisioningAdapter implements ProvisioningAdapter {
  private table?: Promise<unknown>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Created on first use: the module builds its adapter itself, without lifecycle hooks. */
  private ensureTable(): Promise<unknown> {
    this.table ??= this.dataSource.query(
      `CREATE TABLE IF NOT EXISTS ${BENCH_ACCOUNTS_TABLE} (
         access_id text PRIMARY KEY, customer_id text NOT NULL, users int NOT NULL,
         enabled boolean NOT NULL, last_key text NOT NULL)`,
    );
    return this.table;
  }

  provision(grant: ProvisioningGrant): Promise<void> {
    return this.upsert(grant, true);
  }

  update(grant: ProvisioningGrant): Promise<void> {
    return this.upsert(grant, true);
  }

  deprovision(grant: ProvisioningGrant): Promise<void> {
    return this.upsert(grant, false);
  }

  private async upsert(grant: ProvisioningGrant, enabled: boolean): Promise<void> {
    await this.ensureTable();
    const users = grant.orgs.reduce((sum, org) => sum + org.users.length, 0);
    await this.dataSource.query(
      `INSERT INTO ${BENCH_ACCOUNTS_TABLE} (access_id, customer_id, users, enabled, last_key)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (access_id) DO UPDATE
         SET users = EXCLUDED.users, enabled = EXCLUDED.enabled, last_key = EXCLUDED.last_key`,
      [grant.accessId, grant.customerId, users, enabled, grant.idempotencyKey],
    );
  }
}
