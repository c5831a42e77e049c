import type { Pool } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/** Runs one statement with the given parameters and resolves with its rows. */
export type PreparedStatement = <Row>(values: unknown[]) => Promise<Row[]>;

/**
 * A statement of the hot path, run on TypeORM's own `pg` pool as a named (prepared) statement:
 * each pooled connection parses and plans it once instead of on every batch (planning the inbox's
 * statement cost more than writing a small batch), and it skips TypeORM's query runner, which adds
 * nothing to one statement in autocommit. Only for statements that read no table (see
 * `queryPrepared`). PgBouncer in transaction mode needs
 * `max_prepared_statements` (1.21+) for named statements; `preparedStatements: false` runs them
 * unnamed through TypeORM instead.
 */
export function preparedStatement(
  dataSource: DataSource,
  name: string,
  text: string,
  prepared: boolean,
): PreparedStatement {
  const pool = (dataSource.driver as unknown as { master?: Pool } | undefined)?.master;
  if (!prepared || typeof pool?.query !== 'function') {
    return (values) => dataSource.query(text, values);
  }
  return async <Row>(values: unknown[]) => {
    const result = await pool.query({ name, text, values });
    return result.rows as Row[];
  };
}

/** What a `pg` connection answers to a named statement. */
interface NamedQueryClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs a statement as a named (prepared) one on the connection of `manager`'s transaction, for
 * the same reason as `preparedStatement`. Only for statements that read no table (inserts): a
 * connection keeps the generic plan it makes, and one made while a table was empty scans it whole
 * once it has grown. Unnamed through TypeORM when `prepared` is false or `manager` is not in a
 * transaction on `pg`.
 */
export async function queryPrepared<Row>(
  manager: EntityManager,
  statement: { name: string; text: string },
  values: unknown[],
  prepared: boolean,
): Promise<Row[]> {
  const runner = manager.queryRunner as { connect?(): Promise<unknown> } | undefined;
  const client = prepared
    ? ((await runner?.connect?.()) as NamedQueryClient | undefined)
    : undefined;
  if (typeof client?.query !== 'function') {
    return manager.query(statement.text, values);
  }
  const result = await client.query({ ...statement, values });
  return result.rows as Row[];
}
