import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * Access moves from one row per provisioning to one row per (customer, product), the union of its
 * provisionings' windows, so that a renewal (a new provisioning) never costs access:
 * - `aqueduct_entitlements` becomes `aqueduct_provisionings`, one row per provisioning, keyed by its
 *   id, else its invoice, else its period (no longer by subscription, which merged the periods);
 * - `aqueduct_access` is new: one row per (customer, product) with the union's timeline, what was
 *   last announced and what the adapter was last told, carried over from the old rows;
 * - `aqueduct_invoice_payments` is new: the invoices reported paid.
 * The timeline is computed here, set-based, so access checks are right from the first request;
 * every access row is due at once, so the expiry job's first tick re-evaluates the rest (status,
 * merged orgs) with the library's own code.
 */
/** A timestamp as JavaScript's `toISOString()` writes it, the form the library stores in timelines. */
const ISO = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export class SplitAqueductAccess1763800006000 implements MigrationInterface {
  name = 'SplitAqueductAccess1763800006000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    // Instances deploying together each run pending migrations; the later ones find it done.
    const [{ done }] = await queryRunner.query(
      `SELECT to_regclass('aqueduct_provisionings') IS NOT NULL AS done`,
    );
    if (done) {
      return;
    }
    await this.provisionings(queryRunner);
    await this.access(queryRunner);
    await queryRunner.query(`
      CREATE TABLE aqueduct_invoice_payments (
        invoice_id  text PRIMARY KEY,
        paid_at     timestamptz NOT NULL,
        event_id    uuid,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
  }

  private async provisionings(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE aqueduct_entitlements RENAME TO aqueduct_provisionings`);
    await queryRunner.query(`
      ALTER TABLE aqueduct_provisionings
        RENAME CONSTRAINT aqueduct_entitlements_key_key TO aqueduct_provisionings_key_key`);
    await queryRunner.query(
      `ALTER INDEX aqueduct_entitlements_pkey RENAME TO aqueduct_provisionings_pkey`,
    );
    await queryRunner.query(`ALTER TABLE aqueduct_provisionings ADD COLUMN provisioning_id text`);
    await queryRunner.query(
      `UPDATE aqueduct_provisionings SET provisioning_id = substr(key, 4) WHERE key LIKE 'id:%'`,
    );
    // The keys `provisioningKey()` gives (a long one is hashed, as there).
    await queryRunner.query(`
      UPDATE aqueduct_provisionings p
         SET key = CASE WHEN octet_length(n.key) > 512
                        THEN 'sha256:' || encode(sha256(convert_to(n.key, 'UTF8')), 'hex')
                        ELSE n.key END
        FROM (SELECT id, CASE
                WHEN key LIKE 'id:%' THEN key
                WHEN invoice_id IS NOT NULL
                  THEN 'invoice:' || customer_id || ':' || product_id || ':' || invoice_id
                ELSE 'period:' || customer_id || ':' || product_id || ':' || coalesce(subscription_id, '-')
                     || ':' || floor(extract(epoch FROM start_date) * 1000)::bigint
              END AS key FROM aqueduct_provisionings) n
       WHERE n.id = p.id AND p.key <> n.key`);
    // A grace period that ends before the paid period would end access early: never.
    await queryRunner.query(`
      UPDATE aqueduct_provisionings SET access_until = end_date WHERE access_until < end_date`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_entitlements_customer_product_idx`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_entitlements_due_idx`);
    await queryRunner.query(`
      CREATE INDEX aqueduct_provisionings_customer_product_idx
        ON aqueduct_provisionings (customer_id, product_id, start_date)`);
    await queryRunner.query(`
      CREATE INDEX aqueduct_provisionings_invoice_idx
        ON aqueduct_provisionings (invoice_id) WHERE invoice_id IS NOT NULL`);
  }

  private async access(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE aqueduct_access (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id       text NOT NULL,
        product_id        text NOT NULL,
        status            text NOT NULL DEFAULT 'expired'
                          CHECK (status IN ('scheduled', 'active', 'grace', 'expired')),
        has_access        boolean NOT NULL DEFAULT false,
        since             timestamptz,
        access_until      timestamptz,
        paid_until        timestamptz,
        orgs              jsonb NOT NULL DEFAULT '[]'::jsonb,
        timeline          jsonb NOT NULL DEFAULT '[]'::jsonb,
        awaiting_payment  boolean NOT NULL DEFAULT false,
        next_check_at     timestamptz,
        evaluated_at      timestamptz,
        announced_status  text NOT NULL DEFAULT 'none'
                          CHECK (announced_status IN ('none', 'active', 'grace', 'expired')),
        announced_until   timestamptz,
        announced_orgs    jsonb NOT NULL DEFAULT '[]'::jsonb,
        announce_seq      integer NOT NULL DEFAULT 0,
        last_transition   text,
        loss_observed_at  timestamptz,
        provisioned       boolean NOT NULL DEFAULT false,
        provisioned_orgs  jsonb,
        adapter_seq       integer NOT NULL DEFAULT 0,
        version           bigint NOT NULL DEFAULT 0,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT aqueduct_access_customer_product_key UNIQUE (customer_id, product_id)
      )`);
    // The expiry job reads only rows with something ahead: the index holds the live ones.
    await queryRunner.query(`
      CREATE INDEX aqueduct_access_next_check_idx
        ON aqueduct_access (next_check_at) WHERE next_check_at IS NOT NULL`);
    // The union of each (customer, product)'s windows: paid from start to end, then grace until
    // access_until. Running counts of open windows at each boundary tell the status up to the
    // next one; runs of one status are then merged into segments.
    await queryRunner.query(`
      WITH w AS (
        SELECT customer_id, product_id, start_date AS f, greatest(end_date, start_date) AS p,
               greatest(access_until, end_date, start_date) AS u
          FROM aqueduct_provisionings
      ),
      deltas AS (
        SELECT customer_id, product_id, t, sum(paid) AS paid, sum(open) AS open FROM (
          SELECT customer_id, product_id, f AS t, 1 AS paid, 1 AS open FROM w WHERE f < u
          UNION ALL SELECT customer_id, product_id, p, -1, 0 FROM w WHERE f < u
          UNION ALL SELECT customer_id, product_id, u, 0, -1 FROM w WHERE f < u
        ) d GROUP BY customer_id, product_id, t
      ),
      runs AS (
        SELECT customer_id, product_id, t, lead(t) OVER pair AS until,
               CASE WHEN sum(paid) OVER pair > 0 THEN 'active'
                    WHEN sum(open) OVER pair > 0 THEN 'grace' END AS status
          FROM deltas WINDOW pair AS (PARTITION BY customer_id, product_id ORDER BY t)
      ),
      islands AS (
        SELECT *, sum(CASE WHEN status IS NOT DISTINCT FROM before THEN 0 ELSE 1 END)
                    OVER (PARTITION BY customer_id, product_id ORDER BY t) AS island
          FROM (SELECT *, lag(status) OVER (PARTITION BY customer_id, product_id ORDER BY t) AS before
                  FROM runs) r
      ),
      segments AS (
        SELECT customer_id, product_id, status, min(t) AS "from", max(until) AS until
          FROM islands WHERE status IS NOT NULL
         GROUP BY customer_id, product_id, island, status
      ),
      timelines AS (
        SELECT customer_id, product_id,
               jsonb_agg(jsonb_build_object('from', ${ISO('"from"')}, 'until', ${ISO('until')},
                                            'status', status) ORDER BY "from") AS timeline
          FROM segments GROUP BY customer_id, product_id
      ),
      pairs AS (
        SELECT customer_id, product_id,
               bool_or(provisioned) AS provisioned,
               bool_or(status = 'active') AS any_active,
               bool_or(status = 'grace') AS any_grace,
               bool_or(status = 'expired') AS any_expired,
               max(access_until) FILTER (WHERE status IN ('active', 'grace')) AS live_until
          FROM aqueduct_provisionings GROUP BY customer_id, product_id
      ),
      -- The newest period's orgs: a renewal repeats them, so the first evaluation finds them equal.
      live_orgs AS (
        SELECT DISTINCT ON (customer_id, product_id) customer_id, product_id, orgs
          FROM aqueduct_provisionings WHERE status IN ('active', 'grace')
         ORDER BY customer_id, product_id, start_date DESC
      ),
      told_orgs AS (
        SELECT DISTINCT ON (customer_id, product_id) customer_id, product_id, provisioned_orgs AS orgs
          FROM aqueduct_provisionings WHERE provisioned
         ORDER BY customer_id, product_id, start_date DESC
      )
      INSERT INTO aqueduct_access
        (customer_id, product_id, status, has_access, orgs, timeline, next_check_at, announced_status,
         announced_until, announced_orgs, provisioned, provisioned_orgs)
      SELECT p.customer_id, p.product_id,
             CASE WHEN p.any_active THEN 'active' WHEN p.any_grace THEN 'grace'
                  WHEN p.any_expired THEN 'expired' ELSE 'scheduled' END,
             p.any_active OR p.any_grace,
             coalesce(l.orgs, '[]'::jsonb),
             coalesce(t.timeline, '[]'::jsonb),
             '-infinity',
             CASE WHEN p.any_active THEN 'active' WHEN p.any_grace THEN 'grace'
                  WHEN p.any_expired THEN 'expired' ELSE 'none' END,
             p.live_until,
             coalesce(CASE WHEN p.provisioned THEN o.orgs ELSE l.orgs END, '[]'::jsonb),
             coalesce(p.provisioned, false),
             CASE WHEN p.provisioned THEN coalesce(o.orgs, '[]'::jsonb) END
        FROM pairs p
        LEFT JOIN timelines t USING (customer_id, product_id)
        LEFT JOIN live_orgs l USING (customer_id, product_id)
        LEFT JOIN told_orgs o USING (customer_id, product_id)`);
    await queryRunner.query(`
      ALTER TABLE aqueduct_provisionings
        DROP COLUMN status, DROP COLUMN next_transition_at, DROP COLUMN provisioned,
        DROP COLUMN provisioned_orgs, DROP COLUMN expired_at`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Back to one row per provisioning; its keys stay in the new form (the old form merged periods).
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_invoice_payments`);
    await queryRunner.query(`
      ALTER TABLE aqueduct_provisionings
        ADD COLUMN status text NOT NULL DEFAULT 'expired'
          CHECK (status IN ('scheduled', 'active', 'grace', 'expired')),
        ADD COLUMN next_transition_at timestamptz,
        ADD COLUMN provisioned boolean NOT NULL DEFAULT false,
        ADD COLUMN provisioned_orgs jsonb,
        ADD COLUMN expired_at timestamptz`);
    await queryRunner.query(`
      UPDATE aqueduct_provisionings p
         SET status = CASE WHEN now() < p.start_date THEN 'scheduled' WHEN now() < p.end_date THEN 'active'
                           WHEN now() < p.access_until THEN 'grace' ELSE 'expired' END,
             next_transition_at = CASE WHEN now() < p.start_date THEN p.start_date
                                       WHEN now() < p.access_until THEN p.access_until END,
             provisioned = a.provisioned AND now() < p.access_until AND p.start_date <= now(),
             provisioned_orgs = CASE WHEN a.provisioned THEN p.orgs END
        FROM aqueduct_access a
       WHERE a.customer_id = p.customer_id AND a.product_id = p.product_id`);
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_access`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_provisionings_invoice_idx`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_provisionings_customer_product_idx`);
    await queryRunner.query(`ALTER TABLE aqueduct_provisionings DROP COLUMN provisioning_id`);
    await queryRunner.query(`ALTER TABLE aqueduct_provisionings RENAME TO aqueduct_entitlements`);
    await queryRunner.query(`
      ALTER TABLE aqueduct_entitlements
        RENAME CONSTRAINT aqueduct_provisionings_key_key TO aqueduct_entitlements_key_key`);
    await queryRunner.query(
      `ALTER INDEX aqueduct_provisionings_pkey RENAME TO aqueduct_entitlements_pkey`,
    );
    await queryRunner.query(`
      CREATE INDEX aqueduct_entitlements_customer_product_idx
        ON aqueduct_entitlements (customer_id, product_id, start_date, access_until)`);
    await queryRunner.query(`
      CREATE INDEX aqueduct_entitlements_due_idx
        ON aqueduct_entitlements (next_transition_at) WHERE next_transition_at IS NOT NULL`);
  }
}
