import {
  Controller,
  type DynamicModule,
  HttpCode,
  HttpStatus,
  Inject,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
  Post,
  type RawBodyRequest,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';
import { Pool } from 'pg';
import { Webhook } from 'standardwebhooks';

/** Route of the naive receiver in bench-server.ts. */
export const NAIVE_PATH = '/naive';
/** Its table: the delivery id is the unique key, as a hand-written receiver would have it. */
export const NAIVE_TABLE = 'naive_events';

const NAIVE_POOL = Symbol('naive pool');
const NAIVE_WEBHOOK = Symbol('naive webhook');

/**
 * What a careful engineer writes in fifteen lines instead of using the module: the app bootstraps
 * with `rawBody: true`, the `standardwebhooks` package checks the signature, `JSON.parse` reads the
 * body, one `pg` INSERT per request (a unique key makes a retry a no-op), then 200. Durable (the
 * answer waits for the commit) but no validation, no quarantine, no deliveries, no batching.
 */
@Controller(NAIVE_PATH.slice(1))
class NaiveReceiverController {
  constructor(
    @Inject(NAIVE_POOL) private readonly pool: Pool,
    @Inject(NAIVE_WEBHOOK) private readonly webhook: Webhook,
  ) {}

  @Post()
  @HttpCode(HttpStatus.OK)
  async receive(@Req() request: RawBodyRequest<Request>): Promise<{ ok: true }> {
    const headers = request.headers as Record<string, string>;
    let event: { type: string };
    try {
      event = this.webhook.verify(request.rawBody as Buffer, headers) as { type: string };
    } catch {
      throw new UnauthorizedException('bad signature');
    }
    await this.pool.query(
      `INSERT INTO ${NAIVE_TABLE} (id, type, payload) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
      [headers['webhook-id'], event.type, event],
    );
    return { ok: true };
  }
}

/** Creates the table on start (the bench database is new each run) and ends the pool on close. */
class NaiveTable implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(NAIVE_POOL) private readonly pool: Pool) {}

  async onModuleInit(): Promise<void> {
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${NAIVE_TABLE} (
         id text PRIMARY KEY, type text NOT NULL, payload jsonb NOT NULL,
         received_at timestamptz NOT NULL DEFAULT now())`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

/** The naive receiver on its own `pg` pool of 10, the size TypeORM gives the module by default. */
@Module({})
export class NaiveReceiverModule {
  static forRoot(databaseUrl: string, secret: string): DynamicModule {
    return {
      module: NaiveReceiverModule,
      controllers: [NaiveReceiverController],
      providers: [
        { provide: NAIVE_POOL, useFactory: () => new Pool({ connectionString: databaseUrl }) },
        { provide: NAIVE_WEBHOOK, useFactory: () => new Webhook(secret) },
        NaiveTable,
      ],
    };
  }
}
