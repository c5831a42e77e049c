/** Event ids are UUIDs (`gen_random_uuid()`). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id that names no event: what anything but a UUID is replaced with before a uuid column. */
const NO_EVENT = '00000000-0000-0000-0000-000000000000';

export const isEventId = (value: string): boolean => UUID.test(value);

/** The id itself when it can be an event's, else one that matches no row (never a cast error). */
export const asEventId = (value: string): string => (isEventId(value) ? value : NO_EVENT);
