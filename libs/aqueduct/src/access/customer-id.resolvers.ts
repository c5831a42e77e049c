/**
 * Finds the Aqueduct customer id (`owner_…`) of a request, for `@RequiresEntitlement` and
 * `@RequiresFeature` (`access.customerIdResolver`). Nothing, or an empty string, is a 403.
 */
export type CustomerIdResolver = (
  request: any,
) => string | null | undefined | Promise<string | null | undefined>;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/**
 * Ready-made resolvers for `access.customerIdResolver`. Take the id only from what your app
 * vouches for (its session, its gateway, its routes), never from a value any client may set.
 */
export const customerIdFrom = {
  /**
   * A property of `request.user`, as your authentication sets it (Passport, a JWT guard).
   * @default property 'customerId'
   */
  user:
    (property = 'customerId'): CustomerIdResolver =>
    (request) =>
      text(request?.user?.[property]),

  /**
   * A route parameter, e.g. `/customers/:customerId/reports`.
   * @default name 'customerId'
   */
  param:
    (name = 'customerId'): CustomerIdResolver =>
    (request) =>
      text(request?.params?.[name]),

  /**
   * A request header set by your gateway or proxy after it authenticated the caller. Only safe
   * when the gateway removes the header from what clients send.
   */
  header:
    (name: string): CustomerIdResolver =>
    (request) =>
      text(request?.headers?.[name.toLowerCase()]),

  /**
   * The sub-domain of a tenant under `baseDomain` (`acme.app.example.com` with base
   * `app.example.com` is `acme`), mapped to its customer id by `toCustomerId` (your tenants'
   * table; without it the sub-domain is the id). Host names outside `baseDomain` have none.
   */
  subdomain:
    (
      baseDomain: string,
      toCustomerId: (
        subdomain: string,
      ) => string | null | undefined | Promise<string | null | undefined> = (s) => s,
    ): CustomerIdResolver =>
    async (request) => {
      const host = String(request?.hostname ?? request?.headers?.host ?? '')
        .toLowerCase()
        .replace(/:\d+$/, '');
      const suffix = `.${baseDomain.toLowerCase()}`;
      if (!host.endsWith(suffix)) {
        return undefined;
      }
      const label = host.slice(0, -suffix.length);
      // One label only: `a.b.app.example.com` names no tenant.
      return label && !label.includes('.') ? text(await toCustomerId(label)) : undefined;
    },

  /**
   * The first of several resolvers that finds an id, in order. Stays synchronous while they are:
   * it runs on every request of a paid route.
   */
  firstOf: (...resolvers: CustomerIdResolver[]): CustomerIdResolver => {
    const from = (request: any, index: number): ReturnType<CustomerIdResolver> => {
      for (let i = index; i < resolvers.length; i++) {
        const found = resolvers[i](request);
        if (isThenable(found)) {
          return found.then((id) => text(id) ?? from(request, i + 1));
        }
        const id = text(found);
        if (id) {
          return id;
        }
      }
      return undefined;
    };
    return (request) => from(request, 0);
  },
};

export const isThenable = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
