import { ACCESS_EVENT_TYPES } from './access-event-types';

/** Written into the inbox when an alert opens, so its mail (and your listeners) ride the pipeline. */
export const ALERT_RAISED_EVENT = 'alert.raised';

/** Written into the inbox when a delivery is dead-lettered, so alerts ride the durable pipeline. */
export const DELIVERY_DEAD_EVENT = 'delivery.dead';

/** The event types the module writes itself, whose namespaces hold no other. */
export const MODULE_EVENT_TYPES: readonly string[] = [
  ...ACCESS_EVENT_TYPES,
  ALERT_RAISED_EVENT,
  DELIVERY_DEAD_EVENT,
];

const MODULE_NAMESPACES = [...new Set(MODULE_EVENT_TYPES.map((type) => type.split('.')[0]))];

/**
 * Why a listener's type can match no event, or undefined when it can: a pattern other than `'*'`
 * (`'access.*'` is not one), or a name in the module's own namespaces that it never writes
 * (`'access.ended'`).
 */
export function unmatchableType(type: string): string | undefined {
  if (type !== '*' && type.includes('*')) {
    return "is not a pattern: a listener receives the types it names, or every type with '*'";
  }
  const namespace = type.split('.')[0];
  if (MODULE_NAMESPACES.includes(namespace) && !MODULE_EVENT_TYPES.includes(type)) {
    return `is not an event the module writes (${MODULE_EVENT_TYPES.join(', ')})`;
  }
  return undefined;
}
