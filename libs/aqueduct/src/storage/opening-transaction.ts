import { type DataSource, type EntityManager, QueryFailedError, type QueryRunner } from 'typeorm';
import { fromEpochMs } from './epoch-instant';

/**
 * A statement sent inline with the start or the commit of a transaction (an opening or a closing
 * statement), with its values (`$1`, `$2`, … in `text`), which are written into it.
 */
export interface InlineStatement {
  text: string;
  values: ReadonlyArray<string | number | boolean | Date | null>;
}

/** What a `pg` connection offers for a simple (unparameterised, multi-statement) query. */
interface SimpleQueryClient {
  query(text: string): Promise<QueryRows | QueryRows[]>;
  escapeLiteral(value: string): string;
  /**
   * Set on `pg`'s native (libpq) client: not trusted with a query of several statements (it has no
   * `escapeLiteral` today; one it gained would not say how it answers them).
   */
  native?: unknown;
}

interface QueryRows {
  rows: unknown[];
}

/** Sends `statements` between `before` and `after` (bare statements); the statements' rows. */
type Send = (
  statements: InlineStatement[],
  around: { before?: string; after?: string },
) => Promise<unknown[][]>;

/** A placeholder of a statement's text: `$` and the value's position. */
const PLACEHOLDER = /\$(\d+)/g;

/**
 * Runs `work` in a transaction whose first round trip also runs `opening`: `START TRANSACTION`
 * and those statements go to Postgres as one simple query. A transaction that begins by taking an
 * advisory lock and reading what it guards thus waits for one round trip there instead of three,
 * and each round trip costs both processes a wake-up. The read still sees what the lock's previous
 * holder committed: each statement of a simple query takes its own snapshot (READ COMMITTED) once
 * the one before it has returned. Likewise a last write whose result is not needed can go with the
 * `COMMIT` (`close`); if it fails, the commit is not run. A simple query takes no parameters, so
 * the values are written in: integers as digits, null as NULL, anything else through `pg`'s
 * `escapeLiteral`. On `pg`'s native client, which has no `escapeLiteral`, each statement is sent
 * alone with its parameters instead: the same transaction, in more round trips.
 *
 * `work` gets the rows of each opening statement, in order. Commits when it resolves, rolls back
 * when anything throws, as `DataSource.transaction` does.
 */
export async function openingTransaction<T>(
  dataSource: DataSource,
  opening: InlineStatement[],
  work: (
    manager: EntityManager,
    opened: unknown[][],
    close: (statement: InlineStatement) => void,
  ) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as Partial<SimpleQueryClient>;
    const send =
      typeof client.escapeLiteral === 'function' && !client.native
        ? inOneQuery(dataSource, runner, client as SimpleQueryClient)
        : oneByOne(runner);
    const closing: InlineStatement[] = [];
    let result: T;
    try {
      const opened = await send(opening, { before: 'START TRANSACTION' });
      result = await work(runner.manager, opened, (statement) => closing.push(statement));
      await send(closing, { after: 'COMMIT' });
    } catch (error) {
      // As TypeORM does: a rollback that fails (a broken connection) leaves the first error.
      await runner.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    return result;
  } finally {
    await runner.release();
  }
}

/** One simple query, the values written in. */
function inOneQuery(dataSource: DataSource, runner: QueryRunner, client: SimpleQueryClient): Send {
  return async (statements, { before, after }) => {
    const parts = statements.map((statement) => written(statement, client));
    const text = [...(before ? [before] : []), ...parts, ...(after ? [after] : [])].join(';\n');
    dataSource.logger.logQuery(text, undefined, runner);
    const answers = await client.query(text).catch((error: Error) => {
      throw new QueryFailedError(text, undefined, error);
    });
    const all = Array.isArray(answers) ? answers : [answers];
    return all.slice(before ? 1 : 0, (before ? 1 : 0) + parts.length).map((answer) => answer.rows);
  };
}

/**
 * A round trip per statement, with parameters, for a connection that cannot write values in
 * (`pg`'s native client): the same transaction, only slower.
 */
function oneByOne(runner: QueryRunner): Send {
  return async (statements, { before, after }) => {
    if (before) {
      await runner.query(before);
    }
    const rows: unknown[][] = [];
    for (const { text, values } of statements) {
      rows.push(await runner.query(text, [...values]));
    }
    if (after) {
      await runner.query(after);
    }
    return rows;
  };
}

/** The statement with its values written in as literals. */
function written(statement: InlineStatement, client: SimpleQueryClient): string {
  return statement.text.replace(PLACEHOLDER, (placeholder, position: string) => {
    const value = statement.values[Number(position) - 1];
    if (value === undefined) {
      throw new RangeError(`No value for ${placeholder} in ${statement.text}`);
    }
    if (value === null) {
      return 'NULL';
    }
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) {
        throw new RangeError(`Invalid Date for ${placeholder} in ${statement.text}`);
      }
      return `(${fromEpochMs(String(value.getTime()))})`;
    }
    return typeof value === 'number' && Number.isSafeInteger(value)
      ? String(value)
      : client.escapeLiteral(String(value));
  });
}
