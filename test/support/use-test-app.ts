import type { INestApplication } from '@nestjs/common';
import { createTestApp, type TestAppOptions } from './app';
import { createTestDatabase, type TestDatabase } from './database';
import { requireSetUp } from './use-test-database';

/** `createTestApp`'s options without the database, which `useTestApp` creates. */
export type TestAppSetup = Omit<TestAppOptions, 'databaseUrl'>;

/** A server the app talks to: a mail server, a fake Aqueduct API. */
export interface TestServer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestHostOptions {
  /** Instances of the app on the one database, booted one after another. @default 1 */
  instances?: number;
  /** Started before the database and the app, stopped after them. @default [] */
  servers?: TestServer[];
}

/** A describe block's host app and database; read them in tests and hooks (getters). */
export interface TestHost {
  readonly db: Pick<TestDatabase, 'url'>;
  /** The app; the first instance when there are several. */
  readonly app: INestApplication;
  /** Every instance, in boot order. */
  readonly instances: readonly INestApplication[];
}

/**
 * The host app of the enclosing describe block, on a database of its own: a `beforeAll` creates
 * the database and boots the app, an `afterAll` closes every instance, then drops the database.
 *
 * Jest runs a block's hooks in the order they are registered. A `beforeAll` written after this
 * call finds the app up (to seed it, or `listen`); an `afterAll` written before it runs while the
 * app is still up (to release a blocked listener, close a browser), one written after it once the
 * app is closed and the database dropped.
 *
 * `setup` may be a function, called in the `beforeAll` with the instance's index: for options that
 * only exist by then (the port of one of `servers`) or that differ between instances.
 */
export function useTestApp(
  setup: TestAppSetup | ((instance: number) => TestAppSetup),
  options?: TestHostOptions,
): TestHost {
  return useTestHost(
    (databaseUrl, instance) =>
      createTestApp({ ...(typeof setup === 'function' ? setup(instance) : setup), databaseUrl }),
    options,
  );
}

/** `useTestApp` for an app booted some other way than `createTestApp` (the example app). */
export function useTestHost(
  boot: (databaseUrl: string, instance: number) => Promise<INestApplication>,
  { instances = 1, servers = [] }: TestHostOptions = {},
): TestHost {
  let db: TestDatabase | undefined;
  const apps: INestApplication[] = [];
  beforeAll(async () => {
    for (const server of servers) {
      await server.start();
    }
    db = await createTestDatabase();
    for (let instance = 0; instance < instances; instance++) {
      apps.push(await boot(db.url, instance));
    }
  });
  afterAll(async () => {
    try {
      await Promise.all(apps.map((app) => app.close()));
    } finally {
      // Even when a close fails, so that a broken test leaves no database or server behind.
      await db?.drop();
      for (const server of servers) {
        await server.stop();
      }
    }
  });
  return {
    db: {
      get url() {
        return requireSetUp(db, 'the test database').url;
      },
    },
    get app() {
      return requireSetUp(apps[0], 'the test app');
    },
    instances: apps,
  };
}
