import { type DataSource, type EntityManager, QueryFailedError, type QueryRunner } from 'typeorm';
import { fromEpochMs } from './epoch-instant';

/**
 * A statement sent inline with the start or the commit of a transaction (an opening or a closing
 * statement), with its values (`$1`, `$2`, … in `text`), which are written into it.
 */
export interface InlineStatement {
  text: string;
  values: ReadonlyArray<InlineValue>;
}

/** A value written into an inline statement. */
type InlineScalar = string | number | boolean | Date | null;
/** An array is written as `ARRAY[…]`: give its placeholder a cast (`$1::text[]`), as for `[]`. */
export type InlineValue = InlineScalar | ReadonlyArray<InlineScalar>;

/**
 * Adds a statement to the commit's round trip; `onRows`, if given, gets its rows once the commit
 * has succeeded (never when it failed).
 */
export type Close = (statement: InlineStatement, onRows?: (rows: unknown[]) => void) => void;

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
 * the one before it has returned. Likewise the last writes can go with the `COMMIT` (`close`),
 * their rows read once it succeeded; if one fails, the commit is not run. A simple query takes no
 * parameters, so the values are written in: integers as digits, null as NULL, a Date as its
 * milliseconds from the epoch (exact, any year), an array as `ARRAY[…]` of those, anything else
 * through `pg`'s `escapeLiteral`. On `pg`'s native client, which has no `escapeLiteral`, each
 * statement is sent alone with its parameters instead: the same transaction, in more round trips.
 *
 * `work` gets the rows of each opening statement, in order. Commits when it resolves, rolls back
 * when anything throws, as `DataSource.transaction` does.
 */
export function openingTransaction<T>(
  dataSource: DataSource,
  opening: InlineStatement[],
  work: (manager: EntityManager, opened: unknown[][], close: Close) => Promise<T>,
): Promise<T> {
  return onConnection(dataSource, async (send, runner) => {
    const closing: InlineStatement[] = [];
    const readers: ((rows: unknown[]) => void)[] = [];
    const { result, closed } = await rollingBack(runner, async () => {
      const opened = await send(opening, { before: 'START TRANSACTION' });
      const worked = await work(runner.manager, opened, (statement, onRows = ignore) => {
        closing.push(statement);
        readers.push(onRows);
      });
      return { result: worked, closed: await send(closing, { after: 'COMMIT' }) };
    });
    readers.forEach((read, index) => read(closed[index]));
    return result;
  });
}

/**
 * Runs `statements` as one transaction in one round trip (values written in as for
 * `openingTransaction`); their rows, in order.
 */
export function inOneTransaction(
  dataSource: DataSource,
  statements: InlineStatement[],
): Promise<unknown[][]> {
  return onConnection(dataSource, (send, runner) =>
    rollingBack(runner, () => send(statements, { before: 'START TRANSACTION', after: 'COMMIT' })),
  );
}

/** Runs `fn` with a pooled connection and the way to send statements on it; gives it back. */
async function onConnection<T>(
  dataSource: DataSource,
  fn: (send: Send, runner: QueryRunner) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as Partial<SimpleQueryClient>;
    const send =
      typeof client.escapeLiteral === 'function' && !client.native
        ? inOneQuery(dataSource, runner, client as SimpleQueryClient)
        : oneByOne(runner);
    return await fn(send, runner);
  } finally {
    await runner.release();
  }
}

/** Runs `transaction`; rolls it back when anything throws, as `DataSource.transaction` does. */
async function rollingBack<T>(runner: QueryRunner, transaction: () => Promise<T>): Promise<T> {
  try {
    return await transaction();
  } catch (error) {
    // As TypeORM does: a rollback that fails (a broken connection) leaves the first error.
    await runner.query('ROLLBACK').catch(() => undefined);
    throw error;
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

const ignore = () => undefined;

/** The statement with its values written in as literals. */
function written(statement: InlineStatement, client: SimpleQueryClient): string {
  return statement.text.replace(PLACEHOLDER, (placeholder, position: string) => {
    const value = statement.values[Number(position) - 1];
    if (value === undefined) {
      throw new RangeError(`No value for ${placeholder} in ${statement.text}`);
    }
    const scalar = (item: InlineScalar) => literal(item, client, placeholder, statement);
    return Array.isArray(value)
      ? `ARRAY[${value.map(scalar).join(', ')}]`
      : scalar(value as InlineScalar);
  });
}

function literal(
  value: InlineScalar,
  client: SimpleQueryClient,
  placeholder: string,
  statement: InlineStatement,
): string {
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
}
