import type { DataSource } from 'typeorm';

/** pg's pool size when TypeORM is given none. */
const DEFAULT_POOL_SIZE = 10;

/**
 * Connections the module's own work needs while every listener holds one: the notification
 * connection, the webhook route's insert (its 2xx waits for it), the dispatcher's claims.
 */
export const RESERVED_CONNECTIONS = 3;

/** Connections of TypeORM's pool (`extra.max` / `poolSize`; pg's default is 10). */
export function poolSizeOf(dataSource: DataSource): number {
  const pool = (
    dataSource.driver as unknown as { master?: { options?: { max?: number } } } | undefined
  )?.master;
  return pool?.options?.max ?? DEFAULT_POOL_SIZE;
}
