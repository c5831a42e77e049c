import type { INestApplicationContext } from '@nestjs/common';
import type { Command } from 'commander';
import { AqueductAccessService } from '../../access/aqueduct-access.service';
import { ReceiverUptime } from '../../access/receiver-uptime';
import type { ProvisioningOrgDto } from '../../events/provisioning.dto';
import { CliError, ExitCode, output, printable } from '../cli-output';
import { showText } from './access-show.format';
import { accessOptionsOf, addAccessOptions, type AtFlags } from './access.options';
import { onDatabase } from './database.options';

interface ShowFlags extends AtFlags {
  product?: string;
}

/** Orgs with their user count only: the users' names and emails are personal data. */
interface OrgSummary {
  name: string;
  users: number;
}

const summariseOrgs = (orgs: ProvisioningOrgDto[] | null | undefined): OrgSummary[] =>
  (orgs ?? []).map((org) => ({ name: org.name, users: org.users?.length ?? 0 }));

/** `access show <customerId>`: the customer's access to each product, timeline, provisionings. */
export function registerAccessShow(access: Command): void {
  addAccessOptions(
    access
      .command('show')
      .description("a customer's access to each product, its timeline and its provisionings")
      .argument('<customerId>')
      .option('--product <id>', 'only this product'),
  ).action(async (customerId: string, flags: ShowFlags) => {
    const at = flags.at ?? new Date();
    const { entitlements, provisionings, window } = await onDatabase(
      flags,
      (app) => recordedAccess(app, customerId, flags.product, at),
      accessOptionsOf(flags),
    );
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
      () => showText(customerId, at, entitlements, provisionings, window),
    );
  });
}

/** The customer's entitlements at `at` (to `product` only, if given) and provisionings. */
async function recordedAccess(
  app: INestApplicationContext,
  customerId: string,
  product: string | undefined,
  at: Date,
) {
  const service = app.get(AqueductAccessService);
  const one = product ? await service.getEntitlement(customerId, product, at) : undefined;
  return {
    entitlements: product ? (one ? [one] : []) : await service.getEntitlements(customerId, at),
    provisionings: await service.getProvisionings(customerId, product),
    window: app.get(ReceiverUptime).known(),
  };
}
