import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { migrationsBehind, missingTables } from '../aqueduct.messages';
import { AQUEDUCT_NEWEST_COLUMN, AQUEDUCT_TABLES } from './aqueduct-storage';

/**
 * Fails start-up when the tables are missing, instead of answering 503 to every delivery; or when
 * the newest migration has not run, instead of failing every ledger write.
 */
@Injectable()
export class AqueductSchemaCheck implements OnModuleInit {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    const rows: { name: string; found: string | null }[] = await this.dataSource.query(
      `SELECT name, to_regclass(name)::text AS found FROM unnest($1::text[]) AS name`,
      [AQUEDUCT_TABLES],
    );
    const missing = rows.filter((row) => row.found === null).map((row) => row.name);
    if (missing.length > 0) {
      throw new Error(missingTables(missing));
    }
    const { table, column, migration } = AQUEDUCT_NEWEST_COLUMN;
    const [{ found }]: { found: boolean }[] = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped) AS found`,
      [table, column],
    );
    if (!found) {
      throw new Error(migrationsBehind(migration));
    }
  }
}
