import { createTestDatabase, type TestDatabase } from './database';

/**
 * A database of its own for the enclosing describe block: created in a `beforeAll`, dropped in an
 * `afterAll`. For blocks whose tests boot their apps themselves; a block with one app for all its
 * tests wants `useTestApp`, which also closes the app before the drop.
 *
 * Jest runs a block's `afterAll` hooks in the order they are registered, so this drop comes before
 * any teardown written after the call: what still holds a connection (an app, a child process)
 * must be closed in the tests themselves or in an `afterEach`.
 */
export function useTestDatabase(): Pick<TestDatabase, 'url'> {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  return {
    get url() {
      return requireSetUp(db, 'the test database').url;
    },
  };
}

/**
 * What a `beforeAll` set up. Read before it ran (at collection time) or after it failed, the value
 * is missing: say so, rather than let a test fail on `undefined`.
 */
export function requireSetUp<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new Error(`${what} is not set up: read it in a test or hook, after its beforeAll`);
  }
  return value;
}
