import type { AqueductModuleOptions, VerificationOptions } from './aqueduct-options.interface';
import type { WebhookVerifier } from './webhook-verifier.interface';
import {
  ACCESS_DEFAULTS,
  ALERT_DEFAULTS,
  DISPATCH_DEFAULTS,
  ENDPOINT_CHECK_INTERVAL_MS,
  EXPIRY_DEFAULTS,
  HEALTH_DEFAULTS,
  METRICS_DEFAULTS,
  RETENTION_DEFAULTS,
} from './aqueduct-options.defaults';
import { resolveAqueductOptions } from './aqueduct-options.validator';

const resolve = (options: Record<string, unknown>) =>
  resolveAqueductOptions(options as unknown as AqueductModuleOptions);
const withVerification = (verification: Record<string, unknown>) =>
  resolve({ secrets: ['s3cret'], verification });

class MyVerifier implements WebhookVerifier {
  verify() {
    return {};
  }
}

describe('resolveAqueductOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveAqueductOptions({ secrets: ['s3cret'] })).toEqual({
      secrets: ['s3cret'],
      verification: { scheme: 'shared-secret' },
      path: 'webhooks/aqueduct',
      maxBodyBytes: 1048576,
      storeTimeoutMs: 5000,
      preparedStatements: true,
      dispatch: DISPATCH_DEFAULTS,
      expiry: EXPIRY_DEFAULTS,
      retention: RETENTION_DEFAULTS,
      access: ACCESS_DEFAULTS,
      features: {},
      invalidEvents: 'quarantine',
      alerts: ALERT_DEFAULTS,
      endpointCheck: { enabled: false, intervalMs: 10_800_000 },
      health: HEALTH_DEFAULTS,
      metrics: METRICS_DEFAULTS,
    });
  });

  it('fills dispatch defaults around the values given and names a bad one', () => {
    expect(resolve({ secrets: ['s'], dispatch: { concurrency: 3 } }).dispatch).toEqual({
      ...DISPATCH_DEFAULTS,
      concurrency: 3,
    });
    expect(() => resolve({ secrets: ['s'], dispatch: { maxAttempts: 0 } })).toThrow(
      'option "dispatch.maxAttempts" must be a positive integer',
    );
    expect(() => resolve({ secrets: ['s'], dispatch: { enabled: 'yes' } })).toThrow(
      'option "dispatch.enabled" must be true or false',
    );
  });

  it('takes 0 for dispatch.localBacklogPerSlot (the fast path off), not a negative or a fraction', () => {
    expect(resolve({ secrets: ['s'], dispatch: { localBacklogPerSlot: 0 } }).dispatch).toEqual({
      ...DISPATCH_DEFAULTS,
      localBacklogPerSlot: 0,
    });
    for (const bad of [-1, 1.5, '5']) {
      expect(() => resolve({ secrets: ['s'], dispatch: { localBacklogPerSlot: bad } })).toThrow(
        'option "dispatch.localBacklogPerSlot" must be an integer >= 0',
      );
    }
  });

  it('refuses a time a timer cannot hold (past 2^31 - 1 ms, Node fires it after 1 ms), naming it', () => {
    const tooLong = 2 ** 31;
    for (const [field, options] of [
      ['storeTimeoutMs', { storeTimeoutMs: tooLong }],
      ['dispatch.listenerTimeoutMs', { dispatch: { listenerTimeoutMs: tooLong } }],
      ['dispatch.pollIntervalMs', { dispatch: { pollIntervalMs: tooLong } }],
      ['access.cache.loadTimeoutMs', { access: { cache: { loadTimeoutMs: tooLong } } }],
    ] as const) {
      expect(() => resolve({ secrets: ['s'], ...options })).toThrow(`option "${field}" must be`);
    }
    expect(resolve({ secrets: ['s'], storeTimeoutMs: tooLong - 1 }).storeTimeoutMs).toBe(
      tooLong - 1,
    );
  });

  it('refuses a cron expression the job could not run, naming the option and why', () => {
    expect(() => resolve({ secrets: ['s'], expiry: { cron: '61 * * * *' } })).toThrow(
      'option "expiry.cron" must be a cron expression such as "* * * * *" (Field value (61) is out of range)',
    );
    expect(() => resolve({ secrets: ['s'], expiry: { cron: '* * * * * * *' } })).toThrow(
      'option "expiry.cron" must be',
    );
    expect(() =>
      resolve({ secrets: ['s'], retention: { enabled: true, cron: '0 25 * * *' } }),
    ).toThrow('option "retention.cron" must be');
    expect(resolve({ secrets: ['s'], expiry: { cron: '*/5 * * * * *' } }).expiry.cron).toBe(
      '*/5 * * * * *',
    );
  });

  it('keeps the values given', () => {
    const verification: VerificationOptions = { scheme: 'hmac', header: 'x-sig', prefix: 'v1=' };
    const options = { secrets: ['a', 'b'], verification, maxBodyBytes: 10, storeTimeoutMs: 1 };
    expect(resolveAqueductOptions(options)).toEqual({
      ...options,
      path: 'webhooks/aqueduct',
      preparedStatements: true,
      dispatch: DISPATCH_DEFAULTS,
      expiry: EXPIRY_DEFAULTS,
      retention: RETENTION_DEFAULTS,
      access: ACCESS_DEFAULTS,
      features: {},
      invalidEvents: 'quarantine',
      alerts: ALERT_DEFAULTS,
      endpointCheck: { enabled: false, intervalMs: 10_800_000 },
      health: HEALTH_DEFAULTS,
      metrics: METRICS_DEFAULTS,
    });
  });

  it('reads alerts.silenceAfterMs: 0 turns the silence alert off, a negative is named', () => {
    expect(resolve({ secrets: ['s'] }).alerts.silenceAfterMs).toBe(7_200_000);
    expect(resolve({ secrets: ['s'], alerts: { silenceAfterMs: 0 } }).alerts.silenceAfterMs).toBe(
      0,
    );
    expect(() => resolve({ secrets: ['s'], alerts: { silenceAfterMs: -1 } })).toThrow(
      'option "alerts.silenceAfterMs" must be an integer number of ms >= 0 (0: off)',
    );
  });

  it('fills access defaults and names a bad access option', () => {
    expect(
      resolve({ secrets: ['s'], access: { requirePayment: true, settleMs: 0 } }).access,
    ).toEqual({
      requirePayment: true,
      settleMs: 0,
      cache: ACCESS_DEFAULTS.cache,
      fallback: 'deny',
    });
    for (const settleMs of [-1, 365 * 86_400_000 + 1, Number.MAX_SAFE_INTEGER]) {
      expect(() => resolve({ secrets: ['s'], access: { settleMs } })).toThrow(
        'option "access.settleMs" must be an integer number of ms from 0 to 31536000000 (a year)',
      );
    }
    expect(() => resolve({ secrets: ['s'], access: { requirePayment: 'yes' as never } })).toThrow(
      'option "access.requirePayment" must be true or false',
    );
  });

  it('resolves the access cache, the fallback and the features, naming what is wrong', () => {
    expect(resolve({ secrets: ['s'], access: { cache: false } }).access.cache).toBe(false);
    expect(resolve({ secrets: ['s'], access: { cache: { maxEntries: 10 } } }).access.cache).toEqual(
      { ...ACCESS_DEFAULTS.cache, maxEntries: 10 },
    );
    expect(() => resolve({ secrets: ['s'], access: { cache: { maxEntries: 0 } } })).toThrow(
      'option "access.cache.maxEntries" must be an integer >= 1',
    );
    expect(
      resolve({ secrets: ['s'], access: { fallback: { prod_team: 'allow' } } }).access.fallback,
    ).toEqual({ prod_team: 'allow' });
    expect(() =>
      resolve({ secrets: ['s'], access: { fallback: { prod_team: 'yes' as never } } }),
    ).toThrow('option "access.fallback.prod_team" must be "deny" or "allow"');
    expect(() => resolve({ secrets: ['s'], access: { fallback: 'open' as never } })).toThrow(
      'option "access.fallback" must be "deny", "allow" or { [productId]: "deny" | "allow" }',
    );
    expect(
      resolve({ secrets: ['s'], features: { prod_pro: ['sso', 'api', 'sso'] } }).features,
    ).toEqual({ prod_pro: ['sso', 'api'] });
    expect(() => resolve({ secrets: ['s'], features: { prod_pro: 'sso' as never } })).toThrow(
      'option "features.prod_pro" must be an array of feature names',
    );
  });

  it('validates health and metrics, naming the field', () => {
    expect(resolve({ secrets: ['s'], health: { maxDeadDeliveries: 0 } }).health).toEqual({
      maxPendingAgeMs: HEALTH_DEFAULTS.maxPendingAgeMs,
      maxDeadDeliveries: 0,
    });
    expect(() => resolve({ secrets: ['s'], health: { maxPendingAgeMs: -5 } })).toThrow(
      'option "health.maxPendingAgeMs" must be a positive integer',
    );
    expect(() => resolve({ secrets: ['s'], health: { maxDeadDeliveries: 1.5 } })).toThrow(
      'option "health.maxDeadDeliveries" must be an integer >= 0',
    );
    expect(resolve({ secrets: ['s'], metrics: { prefix: 'billing_' } }).metrics.prefix).toBe(
      'billing_',
    );
    expect(() => resolve({ secrets: ['s'], metrics: { prefix: 'bad-prefix' } })).toThrow(
      'option "metrics.prefix" must be a Prometheus name prefix',
    );
    expect(() => resolve({ secrets: ['s'], metrics: { enabled: 'no' } })).toThrow(
      'option "metrics.enabled" must be true or false',
    );
  });

  it('leaves retention off unless enabled, fills its defaults and names a bad field', () => {
    expect(RETENTION_DEFAULTS.enabled).toBe(false);
    expect(
      resolve({ secrets: ['s'], retention: { enabled: true, olderThanDays: 90 } }).retention,
    ).toEqual({ ...RETENTION_DEFAULTS, enabled: true, olderThanDays: 90 });
    const refused: [Record<string, unknown>, string][] = [
      [{ olderThanDays: 0 }, '"retention.olderThanDays" must be a positive integer'],
      [{ olderThanDays: 1.5 }, '"retention.olderThanDays" must be a positive integer'],
      [{ olderThanDays: '30d' }, '"retention.olderThanDays" must be a positive integer'],
      [{ batchSize: -1 }, '"retention.batchSize" must be a positive integer'],
      [{ pauseRatio: -0.5 }, '"retention.pauseRatio" must be a number from 0 to 10'],
      [{ pauseRatio: '0.3' }, '"retention.pauseRatio" must be a number from 0 to 10'],
      [{ pauseRatio: Infinity }, '"retention.pauseRatio" must be a number from 0 to 10'],
      [{ cron: 'hourly' }, '"retention.cron" must be a cron expression'],
      [{ enabled: 'yes' }, '"retention.enabled" must be true or false'],
      [{ includeDead: 1 }, '"retention.includeDead" must be true or false'],
      [{ includeQuarantined: 'no' }, '"retention.includeQuarantined" must be true or false'],
    ];
    for (const [retention, message] of refused) {
      expect(() => resolve({ secrets: ['s'], retention })).toThrow(message);
    }
    expect(() => resolve({ secrets: ['s'], retention: 30 })).toThrow(
      'option "retention" must be an object',
    );
  });

  describe('publicUrl and endpointCheck', () => {
    const PUBLIC_URL = 'https://app.example.com/api/webhooks/aqueduct';

    it('checks every 3 hours once apiKey and publicUrl are both set, not before', () => {
      expect(ENDPOINT_CHECK_INTERVAL_MS).toBe(3 * 60 * 60 * 1000);
      const both = resolve({ secrets: ['s'], apiKey: 'ak_1', publicUrl: ` ${PUBLIC_URL} ` });
      expect(both.publicUrl).toBe(PUBLIC_URL);
      expect(both.endpointCheck).toEqual({ enabled: true, intervalMs: ENDPOINT_CHECK_INTERVAL_MS });
      expect(resolve({ secrets: ['s'], apiKey: 'ak_1' }).endpointCheck.enabled).toBe(false);
      expect(resolve({ secrets: ['s'], publicUrl: PUBLIC_URL }).endpointCheck.enabled).toBe(false);
    });

    it('keeps the values given: off, or another interval', () => {
      const base = { secrets: ['s'], apiKey: 'ak_1', publicUrl: PUBLIC_URL };
      expect(resolve({ ...base, endpointCheck: { enabled: false } }).endpointCheck).toEqual({
        enabled: false,
        intervalMs: ENDPOINT_CHECK_INTERVAL_MS,
      });
      expect(resolve({ ...base, endpointCheck: { intervalMs: 60_000 } }).endpointCheck).toEqual({
        enabled: true,
        intervalMs: 60_000,
      });
    });

    it.each([
      'app.example.com/webhooks/aqueduct',
      '/webhooks/aqueduct',
      'ftp://app.example.com/webhooks',
      'https://',
      '',
      42,
    ])('refuses publicUrl %p, naming it', (publicUrl) => {
      expect(() => resolve({ secrets: ['s'], publicUrl })).toThrow(
        'AqueductModule: option "publicUrl" must be the absolute http:// or https:// URL',
      );
    });

    it('refuses a check that cannot run, and a bad interval', () => {
      expect(() =>
        resolve({ secrets: ['s'], publicUrl: PUBLIC_URL, endpointCheck: { enabled: true } }),
      ).toThrow('option "endpointCheck.enabled" needs both apiKey and publicUrl');
      const base = { secrets: ['s'], apiKey: 'ak_1', publicUrl: PUBLIC_URL };
      expect(() => resolve({ ...base, endpointCheck: { enabled: 'yes' } })).toThrow(
        'option "endpointCheck.enabled" must be true or false',
      );
      for (const intervalMs of [0, 999, 1.5, '3h', 2 ** 31]) {
        expect(() => resolve({ ...base, endpointCheck: { intervalMs } })).toThrow(
          'option "endpointCheck.intervalMs" must be an integer number of ms from 1000 to 2147483647',
        );
      }
      expect(() => resolve({ ...base, endpointCheck: 'daily' })).toThrow(
        'option "endpointCheck" must be an object',
      );
    });
  });

  it('names an unknown mail in email.mails', () => {
    const email = { transport: 'smtp://localhost', from: 'a@b.test' };
    expect(() =>
      resolve({ secrets: ['s'], email: { ...email, mails: { 'access-renewd': true } as never } }),
    ).toThrow('option "email.mails.access-renewd" must be true or false, for one of');
    expect(
      resolve({ secrets: ['s'], email: { ...email, mails: { 'access-renewed': true } } }).email,
    ).toBeDefined();
  });

  it('accepts a single secret given as a string', () => {
    expect(resolve({ secrets: 's3cret' }).secrets).toEqual(['s3cret']);
  });

  it.each([{}, { secrets: [] }])('requires a secret (%p), naming "secrets"', (options) => {
    expect(() => resolve(options)).toThrow(
      'AqueductModule: option "secrets" must hold at least one non-empty secret',
    );
  });

  it.each([
    [[''], 'secrets[0]'],
    [['ok', '   '], 'secrets[1]'],
    [['ok', 'ok', 42], 'secrets[2]'],
    [[null], 'secrets[0]'],
  ])('rejects the secrets %p, naming %s', (secrets, field) => {
    expect(() => resolve({ secrets })).toThrow(`option "${field}" must be a non-empty string`);
  });

  it('names an unset variable: [process.env.AQUEDUCT_WEBHOOK_SECRET!] with it unset', () => {
    expect(() => resolve({ secrets: [undefined as never] })).toThrow(
      'option "secrets[0]" must be a non-empty string, got undefined (is AQUEDUCT_WEBHOOK_SECRET set?)',
    );
  });

  it('refuses an option it does not have, naming the one meant (forRootAsync typos)', () => {
    expect(() => resolve({ secrets: ['s'], acess: { requirePayment: true } } as never)).toThrow(
      'option "acess" is not an option of AqueductModule (did you mean "access"?)',
    );
    expect(() => resolve({ secrets: ['s'], colour: 'blue' } as never)).toThrow(
      'option "colour" is not an option of AqueductModule.',
    );
    expect(() => resolve({ secrets: ['s'], verification: 'standard-webhooks' } as never)).toThrow(
      `option "verification" must be an object like { scheme: 'standard-webhooks' }, got "standard-webhooks"`,
    );
  });

  it('refuses a name a group does not have, naming the one meant (options read from JSON)', () => {
    expect(() => resolve({ secrets: ['s'], access: { settleMS: 0 } } as never)).toThrow(
      'option "access.settleMS" is not an option of "access" (did you mean "access.settleMs"?)',
    );
    expect(() => resolve({ secrets: ['s'], expiry: { enable: false } } as never)).toThrow(
      'option "expiry.enable" is not an option of "expiry" (did you mean "expiry.enabled"?)',
    );
    expect(() =>
      resolve({ secrets: ['s'], access: { cache: { maxEntrys: 10 } } } as never),
    ).toThrow('did you mean "access.cache.maxEntries"?');
    expect(() =>
      resolve({
        secrets: ['s'],
        email: { transport: {}, from: 'a@b.test', alertTO: 'ops@b.test' },
      } as never),
    ).toThrow('did you mean "email.alertTo"?');
    // Not a group: false, or the host's own maps.
    expect(() =>
      resolve({ secrets: ['s'], access: { cache: false }, features: { pro: ['sso'] } }),
    ).not.toThrow();
  });

  it.each([null, 'options'])('rejects options that are not an object (%p)', (options) => {
    expect(() => resolveAqueductOptions(options as never)).toThrow('option "options"');
  });

  it.each(['jwt', '', undefined])('rejects the scheme %p', (scheme) => {
    expect(() => withVerification({ scheme })).toThrow(
      'option "verification.scheme" must be one of standard-webhooks, hmac, shared-secret, custom',
    );
  });

  it.each(['maxBodyBytes', 'storeTimeoutMs'])(
    'rejects a %s that is not a positive integer',
    (f) => {
      for (const value of [0, -1, 1.5, '10', NaN, Infinity, null]) {
        expect(() => resolve({ secrets: ['s'], [f]: value })).toThrow(
          `option "${f}" must be a positive integer`,
        );
      }
    },
  );

  it('rejects a preparedStatements that is not a boolean', () => {
    expect(() => resolve({ secrets: ['s'], preparedStatements: 'no' as never })).toThrow(
      'option "preparedStatements" must be true or false',
    );
  });

  it.each(['header', 'timestampHeader', 'deliveryIdHeader'])(
    'rejects a verification.%s that is not an HTTP header name',
    (field) => {
      for (const value of ['x sig', 'x-sig:', '', 'ünicode', 'x\nsig', 42]) {
        expect(() => withVerification({ scheme: 'hmac', [field]: value })).toThrow(
          `option "verification.${field}" must be an HTTP header name`,
        );
      }
      expect(() => withVerification({ scheme: 'hmac', [field]: 'X-Sig_1.v2' })).not.toThrow();
    },
  );

  it('rejects an unknown HMAC algorithm or encoding', () => {
    expect(() => withVerification({ scheme: 'hmac', algorithm: 'md5' })).toThrow(
      'option "verification.algorithm"',
    );
    expect(() => withVerification({ scheme: 'hmac', encoding: 'latin1' })).toThrow(
      'option "verification.encoding"',
    );
  });

  it.each([-1, NaN, Infinity, '300'])('rejects the toleranceSeconds %p', (toleranceSeconds) => {
    expect(() => withVerification({ scheme: 'standard-webhooks', toleranceSeconds })).toThrow(
      'option "verification.toleranceSeconds" must be a number of seconds >= 0',
    );
  });

  it('accepts a toleranceSeconds of 0', () => {
    expect(withVerification({ scheme: 'hmac', toleranceSeconds: 0 }).verification).toEqual({
      scheme: 'hmac',
      toleranceSeconds: 0,
    });
  });

  it('requires a verifier class for the custom scheme, and no secret', () => {
    expect(() => resolve({ verification: { scheme: 'custom' } })).toThrow(
      'option "verification.verifier" must be a class implementing WebhookVerifier',
    );
    const resolved = resolve({ verification: { scheme: 'custom', verifier: MyVerifier } });
    expect(resolved.secrets).toEqual([]);
  });

  it.each([
    ['/hooks/aqueduct/', 'hooks/aqueduct'],
    ['//hooks//', 'hooks'],
    ['  /api/aqueduct  ', 'api/aqueduct'],
    ['aqueduct', 'aqueduct'],
  ])('normalises the path %p to %p', (path, expected) => {
    expect(resolve({ secrets: ['s'], path }).path).toBe(expected);
  });

  it('rejects the root path', () => {
    expect(() => resolve({ secrets: ['s'], path: '/' })).toThrow(
      'option "path" must not be the root path',
    );
  });

  it.each(['', '   ', 42])('rejects the path %p', (path) => {
    expect(() => resolve({ secrets: ['s'], path })).toThrow(
      'option "path" must be a non-empty route path',
    );
  });

  describe('console', () => {
    class ConsoleGuard {
      canActivate() {
        return true;
      }
    }
    const withConsole = (console: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      resolve({ secrets: ['s3cret'], console, ...extra });

    it('is off unless given', () => {
      expect(resolve({ secrets: ['s'] }).console).toBeUndefined();
    });

    it('fills in the defaults around the guard', () => {
      expect(withConsole({ guard: ConsoleGuard }).console).toEqual({
        guard: ConsoleGuard,
        path: 'aqueduct/console',
        allowUnauthenticated: false,
        pageSize: 50,
      });
      expect(withConsole({ guard: ConsoleGuard, path: '/ops/webhooks/' }).console?.path).toBe(
        'ops/webhooks',
      );
    });

    it('refuses to start without a guard, naming the field and the way out', () => {
      expect(() => withConsole({ path: 'console' })).toThrow(
        /option "console.guard" is required.*allowUnauthenticated: true for local development/,
      );
      expect(() => withConsole({ guard: ConsoleGuard, allowUnauthenticated: 'yes' })).toThrow(
        'option "console.allowUnauthenticated" must be true or false',
      );
      expect(() => withConsole({ guard: {} })).toThrow(
        'option "console.guard" must be a class implementing CanActivate',
      );
    });

    it('starts without a guard only when allowUnauthenticated is true', () => {
      expect(withConsole({ allowUnauthenticated: true }).console?.allowUnauthenticated).toBe(true);
      expect(() => withConsole({ allowUnauthenticated: false })).toThrow('"console.guard"');
    });

    it('checks the page size, the path and the CSRF key', () => {
      expect(() => withConsole({ guard: ConsoleGuard, pageSize: 0 })).toThrow(
        'option "console.pageSize" must be a positive integer',
      );
      expect(() => withConsole({ guard: ConsoleGuard, pageSize: 501 })).toThrow(
        'option "console.pageSize" must be at most 500',
      );
      expect(() => withConsole({ guard: ConsoleGuard, path: '/' })).toThrow(
        'option "console.path" must not be the root path',
      );
      expect(() => withConsole({ guard: ConsoleGuard, path: 'webhooks/aqueduct' })).toThrow(
        'option "console.path" must differ from the webhook path',
      );
      expect(() => withConsole({ guard: ConsoleGuard, csrfSecret: 'short' })).toThrow(
        'option "console.csrfSecret" must be a string of 32+ characters',
      );
    });

    it('needs a CSRF key when there is no webhook secret to derive one from', () => {
      const custom = { verification: { scheme: 'custom', verifier: MyVerifier } };
      expect(() => resolve({ ...custom, console: { guard: ConsoleGuard } })).toThrow(
        'option "console.csrfSecret" is required when no webhook secret is configured',
      );
      const csrfSecret = 'x'.repeat(32);
      expect(resolve({ ...custom, console: { guard: ConsoleGuard, csrfSecret } }).console).toEqual(
        expect.objectContaining({ csrfSecret }),
      );
    });
  });
});
