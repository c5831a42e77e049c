/** Cookie holding the signed CSRF token (double submit: the forms carry the same value). */
export const CSRF_COOKIE = 'aqueduct_console_csrf';

/** Hidden form field carrying the CSRF token. */
export const CSRF_FIELD = '_csrf';

/** Largest console form body read: the forms hold a token and a listener name. */
export const CONSOLE_FORM_MAX_BYTES = 8 * 1024;

/** Longest text accepted in a text filter (type, customer). */
export const CONSOLE_FILTER_MAX_LENGTH = 200;
