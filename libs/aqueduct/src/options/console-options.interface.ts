import type { CanActivate, Type } from '@nestjs/common';

/**
 * The web console: server-rendered pages to inspect events, their deliveries and a customer's
 * entitlements, and to replay events and redrive dead deliveries. Off unless given.
 */
export interface AqueductConsoleOptions {
  /**
   * Route under which the pages are served (the app's global prefix applies on top of it).
   * @default 'aqueduct/console'
   */
  path?: string;
  /**
   * Guard deciding who may use the console; every console route runs it, and a `false` answer
   * is a 403. Register it as a provider in one of your modules to let it inject your services
   * (it is looked up there), or it is instantiated by the module.
   * Required unless `allowUnauthenticated` is true.
   */
  guard?: Type<CanActivate>;
  /**
   * Serve the console to anyone who can reach it, without a guard. For local development only:
   * a warning is logged at start-up.
   * @default false
   */
  allowUnauthenticated?: boolean;
  /**
   * Events per page of the event list and of a customer's timeline (1 to 500).
   * @default 50
   */
  pageSize?: number;
  /**
   * Key signing the console's CSRF tokens; every instance behind one load balancer needs the
   * same. At least 32 characters.
   * @default derived (HKDF-SHA256) from the first of `secrets`; required when there is none
   */
  csrfSecret?: string;
}
