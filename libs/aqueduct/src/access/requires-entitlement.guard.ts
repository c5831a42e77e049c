import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.validator';
import { AqueductAccessService } from './aqueduct-access.service';

export const REQUIRED_PRODUCT = 'aqueduct:required-product';

/** Where the customer id comes from when `access.customerIdResolver` is not set. */
const defaultCustomerId = (request: any): string | undefined =>
  request?.params?.customerId ?? request?.user?.customerId;

/**
 * Lets a request through only when its customer has access to the product now. Override
 * `getCustomerId` in a subclass for per-route logic.
 */
@Injectable()
export class EntitlementGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly access: AqueductAccessService,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const productId = this.reflector.getAllAndOverride<string | undefined>(REQUIRED_PRODUCT, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!productId) {
      return true;
    }
    const customerId = await this.getCustomerId(context);
    if (!customerId) {
      throw new ForbiddenException(
        `No customer could be identified for this request, so access to ${productId} is denied`,
      );
    }
    if (!(await this.access.hasAccess(customerId, productId))) {
      throw new ForbiddenException(
        `Customer ${customerId} has no active entitlement to ${productId}`,
      );
    }
    return true;
  }

  protected async getCustomerId(context: ExecutionContext): Promise<string | undefined> {
    const request = context.switchToHttp().getRequest();
    const resolve = this.options.access?.customerIdResolver ?? defaultCustomerId;
    const id = await resolve(request);
    return typeof id === 'string' && id !== '' ? id : undefined;
  }
}

/** Route or controller decorator: 403 unless the request's customer has access to `productId`. */
export const RequiresEntitlement = (productId: string) =>
  applyDecorators(SetMetadata(REQUIRED_PRODUCT, productId), UseGuards(EntitlementGuard));
