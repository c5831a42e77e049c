/** Text of the errors and log lines the module emits, in one place (as nestjs/schedule does). */

export const invalidOption = (field: string, problem: string) =>
  `AqueductModule: option "${field}" ${problem}.`;

export const EXPRESS_REQUIRED =
  'AqueductModule needs the Express platform (@nestjs/platform-express): the webhook endpoint reads ' +
  'the raw request body before any body parser, which it does on the Express router.';

export const webhookRouteNotFound = (path: string) =>
  `AqueductModule: the webhook route POST .../${path} was not found on the Express router, so its ` +
  'raw body cannot be read before the JSON parser. Is AqueductModule imported by the app module?';

export const missingTables = (tables: string[]) =>
  `AqueductModule: table(s) ${tables.join(', ')} do not exist. Add the shipped migrations to your ` +
  'DataSource (`migrations: [...aqueductMigrations], migrationsRun: true`) or run them with the TypeORM CLI.';

export const migrationsBehind = (migration: string) =>
  `AqueductModule: the database lacks the module's newest migration (${migration}). Run the ` +
  'shipped migrations after an upgrade (`migrations: [...aqueductMigrations], migrationsRun: true`, or the TypeORM CLI).';

/**
 * What the operator changes when a webhook refused before verification (by its body) came from
 * Aqueduct: every retry would meet the same refusal.
 */
export const BODY_REFUSAL_FIX = {
  'too-large': 'raise the maxBodyBytes option',
  unsupported: 'have the proxy in front of this app decode the body, or tell us (an issue)',
  unreadable: 'look at the proxy in front of this app (a body cut short, or re-encoded)',
} as const;

/** The message of every 401 the webhook answers (the reason goes to the log only). */
export const WEBHOOK_UNAUTHORIZED = 'webhook signature or secret missing or invalid';

export const RAW_BODY_MISSING =
  'The raw request body was not captured for the webhook route; a body parser ran first. ' +
  'This is a bug or an unsupported setup: please report it with your bootstrap code.';

/** `path` as served: global prefix included (see `servedPaths`). */
export const schemeInUse = (scheme: string, path: string, secrets: number) =>
  `Aqueduct webhooks on POST ${path} verified with the "${scheme}" scheme (${secrets} secret(s))`;

/** A listener's type that no event can have (see `unmatchableType`). */
export const listenerTypeUnmatchable = (listener: string, type: string, why: string) =>
  `Aqueduct listener ${listener} waits for "${type}", which ${why}: it will never run. Name the ` +
  "types it should receive (a list is fine), or use '*' for all.";

/** `publicUrl`'s path is not one the webhook is served at. */
export const publicUrlElsewhere = (publicUrl: string, publicPath: string, served: string) =>
  `publicUrl ${publicUrl} has the path ${publicPath}, but the webhook is served at ${served}: ` +
  'Aqueduct POSTs to the URL it was given, and every delivery would get 404 until it disables ' +
  'the endpoint (unless a proxy in front rewrites the path). Make publicUrl, and the endpoint ' +
  'registered with Aqueduct, use the served path, or change the global prefix or `path`.';

/** `path` as served: global prefix included (see `servedPaths`). */
export const consoleServed = (path: string, guard: string) =>
  `Aqueduct console on GET ${path}, behind ${guard}`;

export const consoleOpen = (path: string) =>
  `The Aqueduct console at ${path} is open to anyone who can reach it (allowUnauthenticated). ` +
  'Use this for local development only; set console.guard otherwise.';

export const scopedListener = (provider: string, methods: string[]) =>
  `AqueductModule: ${provider} has @OnAqueductEvent listeners (${methods.join(', ')}) but is ` +
  'request-scoped or transient (itself or through a dependency). Listeners run after the answer, ' +
  'outside any request, so it would never be called: make it a singleton (the default scope), and ' +
  'read per-request data from the event instead.';
