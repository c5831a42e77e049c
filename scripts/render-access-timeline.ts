/**
 * Draws the README's picture of a renewal (docs/renewal-timeline.svg) with the console's own
 * renderer, from the ledger's own computation, so the picture and the product cannot disagree.
 * Run: npx ts-node --transpile-only scripts/render-access-timeline.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  Entitlement,
  Provisioning,
} from '../libs/aqueduct/src/access/aqueduct-access.service';
import { evaluateAccess } from '../libs/aqueduct/src/access/access-timeline';
import { accessTimelineSvg } from '../libs/aqueduct/src/console/console-pages/access-timeline.svg';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const day = (n: number) => new Date(T0 + n * DAY);
const orgs = [{ name: 'Acme', users: [{ name: 'Ada', email: 'ada@acme.test' }] }];

/** A monthly subscription renewed once: each period is paid for 30 days, with 7 days of grace. */
const periods = [0, 30].map((start, index) => ({
  key: `invoice:owner_42:prod_pro:inv_${index + 1}`,
  invoiceId: `inv_${index + 1}`,
  startDate: day(start),
  endDate: day(start + 30),
  accessUntil: day(start + 37),
  orgs,
  paidAt: null,
}));
const now = day(34);
const evaluation = evaluateAccess(periods, false, now);
const entitlement = {
  productId: 'prod_pro',
  status: evaluation.status,
  hasAccess: evaluation.hasAccess,
  timeline: evaluation.timeline,
} as Entitlement;
const provisionings = periods.map((p) => ({
  ...p,
  productId: 'prod_pro',
})) as unknown as Provisioning[];

const svg = accessTimelineSvg(entitlement, provisionings, now).value;
const file = join(__dirname, '..', 'docs', 'renewal-timeline.svg');
writeFileSync(file, `${svg.replace(/\n\s+/g, '\n')}\n`);
console.log(`wrote ${file}`);
