import { SetMetadata } from '@nestjs/common';

export const AQUEDUCT_LISTENER_METADATA = 'aqueduct:listener';

/** Matches every event type. */
export const ANY_AQUEDUCT_EVENT = '*';

export interface OnAqueductEventOptions {
  /**
   * The listener's stable name, stored with each delivery. Renaming a listener makes it a new one
   * (it sees only events that arrive afterwards, or those you replay).
   * @default '<ClassName>.<methodName>'
   */
  name?: string;
}

export interface AqueductListenerMetadata {
  types: string[];
  options: OnAqueductEventOptions;
}

/**
 * Runs the method for each stored event of the given type(s) (`'*'` for all), durably: at least
 * once per event, retried with backoff when it throws, dead-lettered after the last attempt.
 * Accepts both spellings of a type (`provisioning.start`, `provisioning_start`).
 */
export const OnAqueductEvent = (
  type: string | string[],
  options: OnAqueductEventOptions = {},
): MethodDecorator =>
  SetMetadata<string, AqueductListenerMetadata>(AQUEDUCT_LISTENER_METADATA, {
    types: Array.isArray(type) ? type : [type],
    options,
  });
