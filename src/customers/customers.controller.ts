import { Controller, Get, Param } from '@nestjs/common';
import { AqueductAccessService, RequiresEntitlement, RequiresFeature } from 'nestjs-aqueduct';

/** The product the example app sells. */
export const EXAMPLE_PRODUCT = 'prod_pro';

@Controller('customers/:customerId')
export class CustomersController {
  constructor(private readonly access: AqueductAccessService) {}

  /**
   * The customer's entitlements, per product whether they have access right now, and the
   * features and seats that gives them.
   */
  @Get('access')
  async getAccess(@Param('customerId') customerId: string) {
    const [entitlements, { features, seats }] = await Promise.all([
      this.access.getEntitlements(customerId),
      this.access.getFeatures(customerId),
    ]);
    const products: Record<string, boolean> = {};
    for (const entitlement of entitlements) {
      products[entitlement.productId] = products[entitlement.productId] || entitlement.hasAccess;
    }
    return { customerId, products, features, seats, entitlements };
  }

  /** A feature only the team plan has: 403 unless a product granting `sso` gives access. */
  @Get('sso')
  @RequiresFeature('sso')
  getSso(@Param('customerId') customerId: string) {
    return { customerId, sso: { metadataUrl: `/customers/${customerId}/sso/metadata.xml` } };
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
