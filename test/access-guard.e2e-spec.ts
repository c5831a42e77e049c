/**
 * Several access requirements on one route (stacked, or on the controller and the route): every
 * one must hold. Real Postgres, real HTTP.
 */
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  Injectable,
  UseGuards,
} from '@nestjs/common';
import { AqueductAccessService, RequiresEntitlement, RequiresFeature } from 'nestjs-aqueduct';
import { waitForDeliveries } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postAccepted } from './support/post';
import { envelope, period } from './support/subscription';
import { TestClock } from './support/test-clock';

const SECRET = 'access-guard-secret';
const T0 = new Date('2026-03-01T00:00:00Z');
const FEATURES = { prod_pro: ['reports', 'api'], prod_team: ['reports', 'api', 'sso'] };

/** A controller whose every route needs the team plan; one route needs the pro plan on top. */
@Controller('customers/:customerId')
@RequiresEntitlement('prod_team')
class TeamController {
  @Get('team-reports')
  @RequiresEntitlement('prod_pro')
  teamReports() {
    return { ok: true };
  }
}

/** Sets `request.user` from a header: the host's authentication, as a guard. */
@Injectable()
class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    request.user = { customerId: request.headers['x-customer'] };
    return true;
  }
}

@Controller('me')
class MeController {
  /** As the README says: the guard setting the user below the requirement, so it runs first. */
  @Get('reports')
  @RequiresEntitlement('prod_pro')
  @UseGuards(HeaderUserGuard)
  reports() {
    return { ok: true };
  }
}

@Controller('customers/:customerId')
class FeaturesController {
  /** Needs both features: `api` and `sso`. */
  @Get('sso-api')
  @RequiresFeature('api')
  @RequiresFeature('sso')
  ssoApi() {
    return { ok: true };
  }
}

describe('Access guards: several requirements on one route', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let access: AqueductAccessService;
  const clock = new TestClock(T0);

  const post = async (payload: unknown) => {
    const id = await postAccepted(app, payload, SECRET);
    const outcome = await waitForDeliveries(app, { eventId: id });
    expect(outcome.dead).toEqual([]);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestApp({
      databaseUrl: db.url,
      clock,
      controllers: [TeamController, FeaturesController, MeController],
      aqueduct: { secrets: [SECRET], features: FEATURES, expiry: { enabled: false } },
    });
    access = app.get(AqueductAccessService);
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('a controller-level @RequiresEntitlement still holds on a route that adds its own', async () => {
    // owner_pro pays for prod_pro only, not for prod_team, which the whole controller requires.
    await post(
      envelope('provisioning.start', period('owner_pro', { start: T0, productId: 'prod_pro' }), T0),
    );
    expect(await access.hasAccess('owner_pro', 'prod_pro')).toBe(true);
    expect(await access.hasAccess('owner_pro', 'prod_team')).toBe(false);

    // The method's product once replaced the class's: 200.
    await request(app.getHttpServer()).get('/customers/owner_pro/team-reports').expect(403);
    await post(
      envelope(
        'provisioning.start',
        period('owner_pro', { start: T0, productId: 'prod_team' }),
        T0,
      ),
    );
    await request(app.getHttpServer()).get('/customers/owner_pro/team-reports').expect(200);
  });

  it('two @RequiresFeature on one route require both features', async () => {
    // owner_api has prod_pro: `api` yes, `sso` no.
    await post(
      envelope('provisioning.start', period('owner_api', { start: T0, productId: 'prod_pro' }), T0),
    );
    expect((await access.check('owner_api', { feature: 'api' })).allowed).toBe(true);
    expect((await access.check('owner_api', { feature: 'sso' })).allowed).toBe(false);

    // Only the last-applied feature (`api`) was once checked: 200.
    await request(app.getHttpServer()).get('/customers/owner_api/sso-api').expect(403);
    await post(
      envelope(
        'provisioning.start',
        period('owner_api', { start: T0, productId: 'prod_team' }),
        T0,
      ),
    );
    await request(app.getHttpServer()).get('/customers/owner_api/sso-api').expect(200);
  });

  it('a host guard written below the requirement runs first: the customer comes from its user', async () => {
    await post(
      envelope('provisioning.start', period('owner_me', { start: T0, productId: 'prod_pro' }), T0),
    );
    await request(app.getHttpServer()).get('/me/reports').set('x-customer', 'owner_me').expect(200);
    await request(app.getHttpServer())
      .get('/me/reports')
      .set('x-customer', 'owner_nobody')
      .expect(403);
  });
});
