import type { Command } from 'commander';
import {
  AqueductAccessService,
  type Entitlement,
  type Provisioning,
} from '../../access/aqueduct-access.service';
import type { ProvisioningOrgDto } from '../../events/provisioning.dto';
import { CliError, ExitCode, output, printable, table } from '../cli-output';
import { withDatabase } from '../database-context';

interface DbFlags {
  databaseUrl?: string;
  json?: boolean;
}

interface AtFlags extends DbFlags {
  at?: Date;
}

const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : '');
const yesNo = (value: boolean) => (value ? 'yes' : 'no');

const databaseUrl = (flags: DbFlags) => flags.databaseUrl ?? process.env.DATABASE_URL;

/** Parses `--at`, or fails with a usage error naming it. */
function isoDate(name: string) {
  return (value: string): Date => {
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) {
      throw new CliError(`${name} must be an ISO 8601 date, got "${value}"`, ExitCode.Usage);
    }
    return parsed;
  };
}

/** Orgs with their user count only: the users' names and emails are personal data. */
interface OrgSummary {
  name: string;
  users: number;
}

const summariseOrgs = (orgs: ProvisioningOrgDto[] | null | undefined): OrgSummary[] =>
  (orgs ?? []).map((org) => ({ name: org.name, users: org.users?.length ?? 0 }));

/** `access show|check`: what the access ledger says about a customer, at a moment. */
export function registerAccess(program: Command): void {
  const access = program
    .command('access')
    .description("a customer's access to products: the ledger, its timeline and provisionings");
  const withDb = (command: Command) =>
    command
      .option('--at <date>', 'the moment to evaluate (ISO 8601; default now)', isoDate('--at'))
      // The env variable is read when the command runs, not given as the option's default:
      // commander would print the default, password included, in --help.
      .option('--database-url <url>', 'Postgres holding the Aqueduct tables (or env DATABASE_URL)')
      .option('--json', 'print JSON');

  withDb(
    access
      .command('show')
      .description("a customer's access to each product, its timeline and its provisionings")
      .argument('<customerId>')
      .option('--product <id>', 'only this product'),
  ).action(async (customerId: string, flags: AtFlags & { product?: string }) => {
    const at = flags.at ?? new Date();
    const { entitlements, provisionings } = await withDatabase(databaseUrl(flags), async (app) => {
      const service = app.get(AqueductAccessService);
      const one = flags.product
        ? await service.getEntitlement(customerId, flags.product, at)
        : undefined;
      return {
        entitlements: flags.product
          ? one
            ? [one]
            : []
          : await service.getEntitlements(customerId, at),
        provisionings: await service.getProvisionings(customerId, flags.product),
      };
    });
    if (!entitlements.length && !provisionings.length) {
      throw new CliError(
        flags.product
          ? `no access recorded for customer ${printable(customerId)} and product ${printable(flags.product)}`
          : `no access recorded for customer ${printable(customerId)}`,
        ExitCode.Failed,
      );
    }
    // `output` escapes DEL and C1 in the JSON too (a sender's org name can carry them).
    output(
      flags.json,
      {
        customerId,
        at,
        entitlements: entitlements.map((e) => ({ ...e, orgs: summariseOrgs(e.orgs) })),
        provisionings: provisionings.map((p) => ({ ...p, orgs: summariseOrgs(p.orgs) })),
      },
      () => showText(customerId, at, entitlements, provisionings),
    );
  });

  withDb(
    access
      .command('check')
      .description('whether a customer has access to a product: exits 0 if so, 1 if not')
      .argument('<customerId>')
      .argument('<productId>'),
  ).action(async (customerId: string, productId: string, flags: AtFlags) => {
    const at = flags.at ?? new Date();
    const entitlement = await withDatabase(databaseUrl(flags), (app) =>
      app.get(AqueductAccessService).getEntitlement(customerId, productId, at),
    );
    const hasAccess = entitlement?.hasAccess ?? false;
    const until = entitlement ? untilOf(entitlement, at) : null;
    output(
      flags.json,
      {
        customerId,
        productId,
        at,
        hasAccess,
        status: entitlement?.status ?? null,
        until,
        changesAt: entitlement?.changesAt ?? null,
      },
      () => {
        if (!entitlement) {
          return 'no access (none recorded)';
        }
        const when =
          entitlement.status === 'scheduled'
            ? `, from ${iso(entitlement.changesAt)}`
            : until
              ? `, until ${iso(until)}`
              : '';
        return `${hasAccess ? 'access' : 'no access'} (${entitlement.status}${when})`;
      },
    );
    process.exitCode = hasAccess ? ExitCode.Ok : ExitCode.Failed;
  });
}

/** With access, when it ends (unless renewed); without, when it last ended (null if never). */
function untilOf(entitlement: Entitlement, at: Date): Date | null {
  if (entitlement.hasAccess) {
    return entitlement.accessUntil;
  }
  const ended = entitlement.timeline.filter((s) => s.until.getTime() <= at.getTime());
  return ended.at(-1)?.until ?? null;
}

function showText(
  customerId: string,
  at: Date,
  entitlements: Entitlement[],
  provisionings: Provisioning[],
): string {
  const lines = [`customer ${printable(customerId)} at ${iso(at)}`];
  for (const e of entitlements) {
    const orgs = e.orgs ?? [];
    const users = orgs.reduce((n, org) => n + (org.users?.length ?? 0), 0);
    const orgNames = orgs.map((org) => printable(org.name)).join(', ');
    lines.push(
      '',
      `${printable(e.productId)}  ${e.status}  access ${yesNo(e.hasAccess)}`,
      pairs([
        ['since', iso(e.since)],
        ['paid until', iso(e.paidUntil)],
        ['access until', iso(e.accessUntil)],
        ['next change', iso(e.changesAt)],
        ['renewal ahead', yesNo(e.renewalAhead)],
        ['awaiting payment', yesNo(e.awaitingPayment)],
        ['provisioned', yesNo(e.provisioned)],
        ['orgs', `${orgs.length}${orgNames ? ` (${orgNames})` : ''}`],
        ['users', String(users)],
      ]),
      '  timeline',
      indent(
        table(
          ['from', 'until', 'status', ''],
          e.timeline.map((s) => [
            iso(s.from),
            iso(s.until),
            s.status,
            s.from.getTime() <= at.getTime() && at.getTime() < s.until.getTime() ? '<- now' : '',
          ]),
        ),
        4,
      ),
    );
  }
  lines.push(
    '',
    'provisionings',
    indent(
      table(
        ['product', 'key', 'invoice', 'start', 'end', 'access until', 'paid at', 'last event'],
        provisionings.map((p) => [
          printable(p.productId),
          printable(p.key),
          printable(p.invoiceId ?? ''),
          iso(p.startDate),
          iso(p.endDate),
          iso(p.accessUntil),
          iso(p.paidAt),
          `${printable(p.lastEventType)} ${iso(p.lastEventAt)}`,
        ]),
      ),
      2,
    ),
  );
  return lines.join('\n');
}

/** Label/value lines, the values aligned. */
const pairs = (rows: [string, string][]) => {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value || '-'}`).join('\n');
};

const indent = (text: string, spaces: number) =>
  text
    .split('\n')
    .map((line) => `${' '.repeat(spaces)}${line}`)
    .join('\n');
