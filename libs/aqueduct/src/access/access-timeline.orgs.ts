import { isDeepStrictEqual } from 'node:util';
import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { AccessWindow } from './access-timeline.interfaces';

const ms = (date: Date) => date.getTime();

/**
 * The orgs and users of the windows that grant access now, merged: orgs by name, users by email
 * (case-insensitive; by name when there is none). The newest period comes first, so its names and
 * extra fields win and its order is kept; a renewal that repeats the previous period's orgs yields
 * exactly those orgs, so it changes nothing for the adapter. The users of `after` (windows held
 * past their end) come after all of theirs.
 */
export function mergeOrgs(
  windows: AccessWindow[],
  after: AccessWindow[] = [],
): ProvisioningOrgDto[] {
  const ordered = [...newestFirst(windows), ...newestFirst(after)];
  const orgs = new Map<string, { org: ProvisioningOrgDto; users: Map<string, unknown> }>();
  for (const window of ordered) {
    for (const org of window.orgs ?? []) {
      let entry = orgs.get(org.name);
      if (!entry) {
        entry = { org, users: new Map() };
        orgs.set(org.name, entry);
      }
      for (const user of org.users ?? []) {
        const id = userId(user);
        if (!entry.users.has(id)) {
          entry.users.set(id, user);
        }
      }
    }
  }
  return [...orgs.values()].map(
    ({ org, users }) => ({ ...org, users: [...users.values()] }) as ProvisioningOrgDto,
  );
}

function newestFirst(windows: AccessWindow[]): AccessWindow[] {
  return [...windows].sort(
    (a, b) => ms(b.startDate) - ms(a.startDate) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
}

/** A user's identity among an org's users: the email (case-insensitive), else the name. */
function userId(user: { email?: unknown; name?: unknown }): string {
  const email = typeof user?.email === 'string' ? user.email.trim().toLowerCase() : '';
  return email ? `email:${email}` : `name:${String(user?.name ?? '')}`;
}

/**
 * Whether two lists of orgs give the same people the same access, in whatever order: Aqueduct
 * promises none, so a renewal listing the same users in another order changes nothing.
 */
export function sameOrgs(
  a: readonly ProvisioningOrgDto[] | null | undefined,
  b: readonly ProvisioningOrgDto[] | null | undefined,
): boolean {
  return isDeepStrictEqual(canonical(a), canonical(b));
}

const byKey = <T>(entries: [string, T][]) =>
  entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, value]) => value);

/** Orgs by name, users by identity, each sorted: the order they came in left out. */
function canonical(orgs: readonly ProvisioningOrgDto[] | null | undefined): unknown[] {
  return byKey(
    (orgs ?? []).map((org) => [
      String(org?.name),
      {
        ...org,
        users: byKey((Array.isArray(org?.users) ? org.users : []).map((u) => [userId(u), u])),
      },
    ]),
  );
}

/**
 * The people among `orgs`' users: one per email (case-insensitive), whatever the orgs it is in;
 * one per name in its org when there is no email (`keys`); and the users with neither, each one
 * (`unnamed`).
 */
export function peopleOf(orgs: readonly ProvisioningOrgDto[] | null | undefined): {
  keys: Set<string>;
  unnamed: number;
} {
  const keys = new Set<string>();
  let unnamed = 0;
  for (const org of orgs ?? []) {
    for (const user of Array.isArray(org?.users) ? org.users : []) {
      const email = typeof user?.email === 'string' ? user.email.trim().toLowerCase() : '';
      const name = typeof user?.name === 'string' ? user.name : '';
      if (email) {
        keys.add(`email:${email}`);
      } else if (name) {
        keys.add(`name:${String(org.name)}/${name}`);
      } else {
        unnamed++;
      }
    }
  }
  return { keys, unnamed };
}

/** The number of people among `orgs`' users (`peopleOf`): what a seat limit counts. */
export function seatCount(orgs: readonly ProvisioningOrgDto[] | null | undefined): number {
  const { keys, unnamed } = peopleOf(orgs);
  return keys.size + unnamed;
}
