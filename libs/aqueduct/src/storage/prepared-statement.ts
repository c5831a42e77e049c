import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/** Runs one statement with the given parameters and resolves with its rows. */
export type PreparedStatement = <Row>(values: unknown[]) => Promise<Row[]>;

/**
 * A statement of the hot path, run on TypeORM's own `pg` pool as a named (prepared) statement:
 * each pooled connection parses and plans it once instead of on every batch (planning the inbox's
 * statement cost more than writing a small batch), and it skips TypeORM's query runner, which adds
 * nothing to one statement in autocommit. PgBouncer in transaction mode needs
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
