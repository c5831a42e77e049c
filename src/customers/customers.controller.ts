import { Controller, Get, Param } from '@nestjs/common';
import { AqueductAccessService, RequiresEntitlement } from 'nestjs-aqueduct';

/** The product the example app sells. */
export const EXAMPLE_PRODUCT = 'prod_pro';

@Controller('customers/:customerId')
export class CustomersController {
  constructor(private readonly access: AqueductAccessService) {}

  /** The customer's entitlements and, per product, whether they have access right now. */
  @Get('access')
  async getAccess(@Param('customerId') customerId: string) {
    const entitlements = await this.access.getEntitlements(customerId);
    const products: Record<string, boolean> = {};
    for (const entitlement of entitlements) {
      products[entitlement.productId] = products[entitlement.productId] || entitlement.hasAccess;
    }
    return { customerId, products, entitlements };
  }

  /** A paid feature: 403 unless the customer (from the route) has access to the product. */
  @Get('reports')
  @RequiresEntitlement(EXAMPLE_PRODUCT)
  getReports(@Param('customerId') customerId: string) {
    return {
      customerId,
      reports: [{ name: 'Monthly usage', url: `/customers/${customerId}/reports/usage` }],
    };
  }
}
