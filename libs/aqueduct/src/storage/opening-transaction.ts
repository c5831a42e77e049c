import { type DataSource, type EntityManager, QueryFailedError } from 'typeorm';

/** A statement that opens a transaction, with its values (`$1`, `$2`, … in `text`). */
export interface OpeningStatement {
  text: string;
  values: ReadonlyArray<string | number>;
}

/** What a `pg` connection offers for a simple (unparameterised, multi-statement) query. */
interface SimpleQueryClient {
  query(text: string): Promise<QueryRows | QueryRows[]>;
  escapeLiteral(value: string): string;
}

interface QueryRows {
  rows: unknown[];
}

/** A placeholder of a statement's text: `$` and the value's position. */
const PLACEHOLDER = /\$(\d+)/g;

/**
 * Runs `work` in a transaction whose first round trip also runs `opening`: `START TRANSACTION`
 * and those statements go to Postgres as one simple query. A transaction that begins by taking an
 * advisory lock and reading what it guards thus waits for one round trip there instead of three,
 * and each round trip costs both processes a wake-up. The read still sees what the lock's previous
 * holder committed: each statement of a simple query takes its own snapshot (READ COMMITTED) once
 * the one before it has returned. A simple query takes no parameters, so the values are written
 * in: integers as digits, anything else through `pg`'s `escapeLiteral`.
 *
 * `work` gets the rows of each opening statement, in order. Commits when it resolves, rolls back
 * when anything throws, as `DataSource.transaction` does.
 */
export async function openingTransaction<T>(
  dataSource: DataSource,
  opening: OpeningStatement[],
  work: (manager: EntityManager, opened: unknown[][]) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as SimpleQueryClient;
    const text = ['START TRANSACTION', ...opening.map((s) => written(s, client))].join(';\n');
    let result: T;
    try {
      dataSource.logger.logQuery(text, undefined, runner);
      const answers = await client.query(text).catch((error: Error) => {
        throw new QueryFailedError(text, undefined, error);
      });
      // The first answer is START TRANSACTION's.
      const opened = (Array.isArray(answers) ? answers : [answers]).slice(1).map((a) => a.rows);
      result = await work(runner.manager, opened);
      await runner.query('COMMIT');
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

/** The statement with its values written in as literals. */
function written(statement: OpeningStatement, client: SimpleQueryClient): string {
  return statement.text.replace(PLACEHOLDER, (placeholder, position: string) => {
    const value = statement.values[Number(position) - 1];
    if (value === undefined) {
      throw new RangeError(`No value for ${placeholder} in ${statement.text}`);
    }
    return typeof value === 'number' && Number.isSafeInteger(value)
      ? String(value)
      : client.escapeLiteral(String(value));
  });
}
