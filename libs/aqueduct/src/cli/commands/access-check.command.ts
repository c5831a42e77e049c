import type { Command } from 'commander';
import { withRenewalWindow } from '../../access/access-timeline';
import { AqueductAccessService, type Entitlement } from '../../access/aqueduct-access.service';
import { ACCESS_DEFAULTS } from '../../options/aqueduct-options.defaults';
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
    const entitlement = await onDatabase(
      flags,
      (app) => app.get(AqueductAccessService).getEntitlement(customerId, productId, at),
      accessOptionsOf(flags),
    );
    const hasAccess = entitlement?.hasAccess ?? false;
    const windowMs = accessOptionsOf(flags)?.settleMs ?? ACCESS_DEFAULTS.settleMs;
    const until = entitlement ? untilOf(entitlement, at, windowMs) : null;
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
 * renewal window (`windowMs`) included, as checks held it.
 */
function untilOf(entitlement: Entitlement, at: Date, windowMs: number): Date | null {
  if (entitlement.hasAccess) {
    return entitlement.accessUntil;
  }
  const held = withRenewalWindow(entitlement.timeline, windowMs);
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
      ? `, from ${iso(entitlement.changesAt)}`
      : until
        ? `, until ${iso(until)}`
        : '';
  return `${entitlement.hasAccess ? 'access' : 'no access'} (${entitlement.status}${when})`;
}
