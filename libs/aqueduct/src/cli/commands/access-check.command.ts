import type { Command } from 'commander';
import { withRenewalWindow } from '../../access/access-timeline';
import { AqueductAccessService, type Entitlement } from '../../access/aqueduct-access.service';
import { ReceiverUptime } from '../../access/receiver-uptime';
import type { RenewalWindow } from '../../access/renewal-window';
import { ExitCode, output } from '../cli-output';
import { accessOptionsOf, addAccessOptions, type AtFlags } from './access.options';
import { onDatabase } from './database.options';
import { iso } from './text.format';

/** `access check <customerId> <productId>`: exit 0 with access, 1 without. */
export function registerAccessCheck(access: Command): void {
  addAccessOptions(
    access
      .command('check')
      .description('whether a customer has access to a product: exits 0 if so, 1 if not')
      .argument('<customerId>')
      .argument('<productId>'),
  ).action(async (customerId: string, productId: string, flags: AtFlags) => {
    const at = flags.at ?? new Date();
    const { entitlement, window } = await onDatabase(
      flags,
      async (app) => ({
        entitlement: await app.get(AqueductAccessService).getEntitlement(customerId, productId, at),
        window: app.get(ReceiverUptime).known(),
      }),
      accessOptionsOf(flags),
    );
    const hasAccess = entitlement?.hasAccess ?? false;
    const until = entitlement ? untilOf(entitlement, at, window) : null;
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
      () => checkText(entitlement, until),
    );
    process.exitCode = hasAccess ? ExitCode.Ok : ExitCode.Failed;
  });
}

/**
 * With access, when it ends (unless renewed); without, when it last ended (null if never), its
 * renewal window included, as checks held it.
 */
function untilOf(entitlement: Entitlement, at: Date, window: RenewalWindow): Date | null {
  if (entitlement.hasAccess) {
    return entitlement.accessUntil;
  }
  const held = withRenewalWindow(entitlement.timeline, window);
  const ended = held.filter((s) => s.until.getTime() <= at.getTime());
  return ended.at(-1)?.until ?? null;
}

/** One line: access or not, the status, and when it starts (scheduled) or ends. */
function checkText(entitlement: Entitlement | null | undefined, until: Date | null): string {
  if (!entitlement) {
    return 'no access (none recorded)';
  }
  const when =
    entitlement.status === 'scheduled'
      ? entitlement.changesAt
        ? `, from ${iso(entitlement.changesAt)}`
        : entitlement.awaitingPayment
          ? ', awaiting payment'
          : ''
      : until
        ? `, until ${iso(until)}`
        : '';
  return `${entitlement.hasAccess ? 'access' : 'no access'} (${entitlement.status}${when})`;
}
