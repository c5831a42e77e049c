import type { CustomerAccess, ProductAccess } from './access-cache.interfaces';
import { pairsOf, toSpans } from './access-cache.spans';
import { windowSpans } from './access-timeline';
import type { RenewalWindow } from './renewal-window';

/**
 * The entry's span ends as `spanEnds` lists them. With only `paidEnd` kept, there is one span and
 * nothing after it: it ends where its window begins, or where the spans end.
 */
function endsOf(found: ProductAccess): readonly number[] {
  if (found.paidEnd === undefined) {
    return found.ends ?? [];
  }
  const end = found.windows.length > 0 ? found.windows[0] : found.spans[found.spans.length - 1];
  return [end, found.paidEnd, Infinity];
}

/**
 * A customer's access as held while Postgres is out of reach (answers from memory, `stale`): the
 * renewal windows worked out again with `window`, which counts the outage so far as a gap. A
 * renewal's start Aqueduct sends into the outage is refused, and comes back with its next retry:
 * a window that would close meanwhile stays open until then, as it will once the outage is
 * recorded. Windows only grow: what the entry held, it still holds.
 */
export function heldThroughOutage(access: CustomerAccess, window: RenewalWindow): CustomerAccess {
  const held = new Map<string, ProductAccess>();
  for (const [productId, found] of access) {
    const windows = windowSpans(endsOf(found), window);
    held.set(
      productId,
      windows.length === 0
        ? found
        : {
            ...found,
            spans: toSpans([...pairsOf(found.spans), ...pairsOf(windows)]),
            windows: toSpans([...pairsOf(found.windows), ...pairsOf(windows)]),
          },
    );
  }
  return held;
}
