import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import {
  type AccessCheck,
  type AccessQuery,
  AqueductAccessService,
} from './aqueduct-access.service';
import { customerIdFrom, isThenable } from './customer-id.resolvers';

export const REQUIRED_PRODUCT = 'aqueduct:required-product';
export const REQUIRED_FEATURE = 'aqueduct:required-feature';

/** Where the customer id comes from when `access.customerIdResolver` is not set. */
const defaultCustomerId = customerIdFrom.firstOf(customerIdFrom.param(), customerIdFrom.user());

/**
 * Lets a request through only when its customer has access to the product (`@RequiresEntitlement`)
 * or the feature (`@RequiresFeature`) now; 403 otherwise. Answered from the access cache, so it
 * costs no database round trip on the hot path, and never a 500 for a database fault: while
 * Postgres is unreachable a known customer is answered from memory, an unknown one by
 * `access.fallback`. Override `getCustomerId` in a subclass for per-route logic.
 */
@Injectable()
export class EntitlementGuard implements CanActivate {
  private readonly logger = new Logger('AqueductAccess');
  private readonly required = new WeakMap<object, WeakMap<object, AccessQuery[]>>();
  /** Handlers whose request named no customer, told once each (a setup mistake, usually). */
  private readonly anonymousTold = new WeakSet<object>();

  constructor(
    private readonly reflector: Reflector,
    private readonly access: AqueductAccessService,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const queries = this.queriesOf(context);
    if (queries.length === 0) {
      return true;
    }
    const customerId = await this.getCustomerId(context);
    if (!customerId) {
      this.tellAnonymous(context);
      throw new ForbiddenException(
        `No customer could be identified for this request, so access to ${describe(queries[0])} is denied`,
      );
    }
    for (const query of queries) {
      const check = await this.access.check(customerId, query);
      if (!check.allowed) {
        throw new ForbiddenException(denied(check, query));
      }
    }
    return true;
  }

  /**
   * Once per route: a request it could not name a customer for. The 403 says nothing of the setup
   * (the caller is not the operator); the log says where the id was looked for.
   */
  private tellAnonymous(context: ExecutionContext): void {
    const handler = context.getHandler();
    if (this.anonymousTold.has(handler)) {
      return;
    }
    this.anonymousTold.add(handler);
    const where = this.options.access?.customerIdResolver
      ? 'access.customerIdResolver'
      : 'the route parameter customerId, then request.user.customerId (the default resolver)';
    this.logger.warn(
      `No customer id in a request to ${context.getClass().name}.${handler.name}, looked for in ` +
        `${where}: denied (403). If your routes carry it elsewhere, set access.customerIdResolver ` +
        `(customerIdFrom.param(name), .user(field), .header(name), .subdomain(...)); a guard setting ` +
        `request.user must run first (written below @RequiresEntitlement). Said once per route.`,
    );
  }

  protected async getCustomerId(context: ExecutionContext): Promise<string | undefined> {
    const request = context.switchToHttp().getRequest();
    const resolve = this.options.access?.customerIdResolver ?? defaultCustomerId;
    const found = resolve(request);
    const id = isThenable(found) ? await found : found;
    return typeof id === 'string' && id !== '' ? id : undefined;
  }

  /** What the route requires, read once per handler and class (metadata lookups are not free). */
  private queriesOf(context: ExecutionContext): AccessQuery[] {
    const handler = context.getHandler();
    const type = context.getClass();
    let byClass = this.required.get(handler);
    let queries = byClass?.get(type);
    if (!queries) {
      // Merged, not overridden: a controller's requirement still holds on a route adding its own.
      const targets = [handler, type];
      const products = this.reflector.getAllAndMerge<string[]>(REQUIRED_PRODUCT, targets);
      const features = this.reflector.getAllAndMerge<string[]>(REQUIRED_FEATURE, targets);
      queries = [
        ...[...new Set(products)].map((product) => ({ product })),
        ...[...new Set(features)].map((feature) => ({ feature })),
      ];
      byClass ??= new WeakMap();
      byClass.set(type, queries);
      this.required.set(handler, byClass);
    }
    return queries;
  }
}

const describe = (query: AccessQuery) =>
  'feature' in query ? `the feature ${query.feature}` : query.product;

function denied(check: AccessCheck, query: AccessQuery): string {
  if (check.fallback) {
    return `Access to ${describe(query)} could not be verified for customer ${check.customerId} (the database is unreachable); denied by access.fallback`;
  }
  return 'feature' in query
    ? `Customer ${check.customerId} has no active entitlement granting the feature ${query.feature}`
    : `Customer ${check.customerId} has no active entitlement to ${query.product}`;
}

/**
 * Adds `value` to the list under `key` on a class or a method: stacked decorators (and a
 * controller's with a route's) all count, where `SetMetadata` would keep only the last.
 */
const requirement =
  (key: string, value: string): ClassDecorator & MethodDecorator =>
  (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = descriptor ? (descriptor.value as object) : target;
    // Inherited too: a subclass of a guarded controller keeps its parent's requirement.
    const before: string[] = Reflect.getMetadata(key, holder) ?? [];
    Reflect.defineMetadata(key, [...before, value], holder);
  };

/**
 * Route or controller decorator: 403 unless the request's customer has access to `productId`.
 * Several (stacked, or on the controller and the route) must all hold.
 */
export const RequiresEntitlement = (productId: string) =>
  applyDecorators(requirement(REQUIRED_PRODUCT, productId), UseGuards(EntitlementGuard));

/**
 * Route or controller decorator: 403 unless a product granting `feature` (the `features` option)
 * gives the request's customer access now. Several must all hold.
 */
export const RequiresFeature = (feature: string) =>
  applyDecorators(requirement(REQUIRED_FEATURE, feature), UseGuards(EntitlementGuard));
