import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { AqueductHealthIndicator } from 'nestjs-aqueduct';

/** How long the database may take to answer the ping (the Aqueduct check allows 3 s too). */
const DATABASE_PING_TIMEOUT_MS = 3000;

/**
 * GET /health (@nestjs/terminus): 200 `{ status: 'ok', info: { database, aqueduct } }` when the
 * database answers and the Aqueduct module is up, 503 with the failing keys under `error` when not.
 * For a load balancer's or an orchestrator's probe.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly aqueduct: AqueductHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: DATABASE_PING_TIMEOUT_MS }),
      () => this.aqueduct.isHealthy('aqueduct'),
    ]);
  }
}
