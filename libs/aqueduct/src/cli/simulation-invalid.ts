import type { provisioningStartEvent } from '../testing/aqueduct-event.factory';

/**
 * Ways an authentic event can be impossible to understand, as `--invalid` makes them (each in
 * turn), with what each is for the help.
 */
export const INVALID_KINDS = {
  'numeric-email': 'a user whose email is a number',
  'missing-product-id': 'a provisioning without productId',
  'not-json': 'a body cut off halfway (not JSON)',
  'no-object': 'a provisioning event without its object',
} as const;

export type InvalidKind = keyof typeof INVALID_KINDS;

/** The kinds in the order `--invalid` deals them out. */
export const INVALID_ORDER = Object.keys(INVALID_KINDS) as InvalidKind[];

/** The body of `event` made impossible to understand in the way `kind` says. */
export function spoil(event: ReturnType<typeof provisioningStartEvent>, kind: InvalidKind): string {
  const object = structuredClone(event.object) as Record<string, unknown>;
  switch (kind) {
    case 'numeric-email': {
      // A phone number typed into the email field, sent as a number.
      const [org] = object.provisioningOrgs as { users: Record<string, unknown>[] }[];
      org.users[0] = { ...org.users[0], email: 4915112345678 };
      return JSON.stringify({ ...event, object });
    }
    case 'missing-product-id':
      delete object.productId;
      return JSON.stringify({ ...event, object });
    case 'not-json': {
      // Cut off halfway, as by a proxy or a truncated write.
      const text = JSON.stringify(event);
      return text.slice(0, Math.floor(text.length / 2));
    }
    case 'no-object':
      return JSON.stringify({ createdAt: event.createdAt, type: event.type });
  }
}
