// @ts-check
/**
 * The library's layers, lowest first: a folder of libs/aqueduct/src may import from its own layer
 * and the layers below it, never from one above (docs/architecture.md explains each). Enforced by
 * the `aqueduct/layers` rule of eslint.config.mjs, so `npm run lint` fails on an upward import.
 */
export const LAYERS = [
  'utils', // pure helpers; with the root's aqueduct.constants.ts and aqueduct.messages.ts
  'events', // the vocabulary: Aqueduct's events and the module's access.* events, DTOs, parser
  'options', // what a host configures: the options, their defaults and validation, host contracts
  'storage', // the inbox, events and deliveries tables, migrations, LISTEN/NOTIFY
  'observability', // metrics
  'listeners', // @OnAqueductEvent, the registry, discovery, the event-emitter bridge
  'dispatch', // the dispatcher: claims deliveries and runs listeners
  'verification', // signature schemes
  'alerts', // operator alerts and the verification monitor
  'access', // the ledger, the access cache and checks, the expiry job, the adapter
  'email', // mails to users and operators
  'api', // Aqueduct's API client and the endpoint check
  'admin', // reads and commands on stored events (console, CLI, hosts)
  'health', // the health indicator
  'http', // the webhook route
  'console', // the web console
  'testing', // the testing kit
  '(module)', // aqueduct.module.ts, aqueduct.providers.ts, index.ts: the wiring and the barrel
  'cli', // the command line, which boots the module
];

/** Root files of src/ that belong to the lowest layer (the others are the wiring). */
export const ROOT_BASE_FILES = ['aqueduct.constants.ts', 'aqueduct.messages.ts'];
