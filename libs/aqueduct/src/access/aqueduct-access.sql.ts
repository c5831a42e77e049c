import { joinPayment } from './aqueduct-ledger.queries';

/**
 * An access row's orgs as checks count them: as last evaluated, or, while a loss is not announced
 * yet (a renewal window: see `withRenewalWindow`), those the adapter still has provisioned.
 */
export const CHECKED_ORGS = `CASE WHEN NOT has_access AND announced_status IN ('active', 'grace')
  THEN announced_orgs ELSE orgs END`;

/** An access row's columns, named as `AccessRecord` names them. */
const ACCESS_COLUMNS = `id, customer_id AS "customerId", product_id AS "productId", timeline,
  awaiting_payment AS "awaitingPayment", ${CHECKED_ORGS} AS orgs, provisioned,
  next_check_at AS "nextCheckAt", updated_at AS "updatedAt"`;

/** A provisioning's columns and its payment, named as `Provisioning` says: rows are returned as read. */
const PROVISIONING_COLUMNS = `p.key, p.provisioning_id AS "provisioningId", p.customer_id AS "customerId",
  p.product_id AS "productId", p.subscription_id AS "subscriptionId", p.invoice_id AS "invoiceId",
  p.start_date AS "startDate", p.end_date AS "endDate", p.grace_period_end_date AS "gracePeriodEndDate",
  p.access_until AS "accessUntil", p.contract_start_date AS "contractStartDate",
  p.contract_end_date AS "contractEndDate", p.orgs, p.metadata, pay.paid_at AS "paidAt",
  p.last_event_id AS "lastEventId", p.last_event_type AS "lastEventType", p.last_event_at AS "lastEventAt"`;

/** The access row of a (customer, product): `$1` customer, `$2` product. */
export const ENTITLEMENT_SQL = `SELECT ${ACCESS_COLUMNS} FROM aqueduct_access WHERE customer_id = $1 AND product_id = $2`;

/** The access rows of a customer (`$1`), by product. */
export const ENTITLEMENTS_SQL = `SELECT ${ACCESS_COLUMNS} FROM aqueduct_access WHERE customer_id = $1 ORDER BY product_id`;

/** The provisionings of a customer (`$1`), of one product (`$2`) unless it is null, with payments. */
export const CUSTOMER_PROVISIONINGS_SQL = `SELECT ${PROVISIONING_COLUMNS} FROM aqueduct_provisionings p
         ${joinPayment('p')}
        WHERE p.customer_id = $1 AND ($2::text IS NULL OR p.product_id = $2)
        ORDER BY p.product_id, p.start_date, p.key`;
