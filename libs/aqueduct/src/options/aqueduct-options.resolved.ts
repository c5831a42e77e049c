import type {
  AccessCacheOptions,
  AccessFallback,
  AccessOptions,
  AlertOptions,
  AqueductConsoleOptions,
  AqueductModuleOptions,
  DispatchOptions,
  EndpointCheckOptions,
  ExpiryOptions,
  HealthOptions,
  MetricsOptions,
  RetentionOptions,
  VerificationOptions,
} from './aqueduct-options.interface';

/** Options after validation, with every default filled in. */
export interface ResolvedAqueductOptions extends AqueductModuleOptions {
  secrets: string[];
  verification: VerificationOptions;
  path: string;
  maxBodyBytes: number;
  storeTimeoutMs: number;
  preparedStatements: boolean;
  dispatch: Required<DispatchOptions>;
  expiry: Required<ExpiryOptions>;
  retention: Required<RetentionOptions>;
  access: ResolvedAccessOptions;
  features: Record<string, string[]>;
  invalidEvents: 'quarantine' | 'reject';
  alerts: Required<AlertOptions>;
  endpointCheck: Required<EndpointCheckOptions>;
  health: HealthOptions & { maxPendingAgeMs: number };
  metrics: MetricsOptions & { prefix: string };
  console?: ResolvedConsoleOptions;
}

/** Access options with their defaults. */
export interface ResolvedAccessOptions extends AccessOptions {
  requirePayment: boolean;
  settleMs: number;
  /** `false` when the cache is off. */
  cache: Required<AccessCacheOptions> | false;
  fallback: AccessFallback | Record<string, AccessFallback>;
}

/** Console options after validation: absent when the console is off. */
export interface ResolvedConsoleOptions extends AqueductConsoleOptions {
  path: string;
  allowUnauthenticated: boolean;
  pageSize: number;
}
