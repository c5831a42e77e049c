import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { AqueductModuleOptions, VerificationScheme } from 'nestjs-aqueduct';
import { ConsolePasswordGuard } from './console/console-password.guard';

/**
 * Development-only secret, so that `npm start` works on a fresh clone. It is a valid Standard
 * Webhooks secret too. Never use it in production: set AQUEDUCT_WEBHOOK_SECRET.
 */
export const DEVELOPMENT_SECRET = 'whsec_ZGV2ZWxvcG1lbnQtc2VjcmV0LWRvLW5vdC11c2U=';

/** The module's options, read from the environment the way a host app would. */
export function aqueductOptionsFromEnv(config: ConfigService): AqueductModuleOptions {
  const secrets = webhookSecretsFromEnv(config);
  const scheme = (config.get<string>('AQUEDUCT_VERIFICATION') ?? 'shared-secret') as Exclude<
    VerificationScheme,
    'custom'
  >;
  return {
    secrets,
    verification: { scheme } as AqueductModuleOptions['verification'],
    path: config.get<string>('AQUEDUCT_WEBHOOK_PATH') ?? 'webhooks/aqueduct',
    email: emailFromEnv(config),
    console: consoleFromEnv(config),
    // What each product the example sells unlocks (`@RequiresFeature`, `getFeatures`).
    features: EXAMPLE_FEATURES,
  };
}

/** The example's plans: Aqueduct product → the app's features. */
export const EXAMPLE_FEATURES = {
  prod_pro: ['reports', 'api'],
  prod_team: ['reports', 'api', 'sso'],
};

/**
 * AQUEDUCT_WEBHOOK_SECRET, comma-separated during a rotation. Outside production the development
 * secret stands in when it is unset.
 */
export function webhookSecretsFromEnv(config: ConfigService): string[] {
  refuseDevelopmentSecretInProduction(config);
  const value = config.get<string>('AQUEDUCT_WEBHOOK_SECRET');
  if (!value) {
    new Logger('Example').warn(
      'AQUEDUCT_WEBHOOK_SECRET not set: using the development secret (see README)',
    );
    return [DEVELOPMENT_SECRET];
  }
  return value.split(',').map((secret) => secret.trim());
}

/**
 * In production (NODE_ENV=production), stops the start-up when AQUEDUCT_WEBHOOK_SECRET is unset or
 * holds the development secret (which is public: it is in the README).
 */
export function refuseDevelopmentSecretInProduction(config: ConfigService): void {
  if (config.get<string>('NODE_ENV') !== 'production') {
    return;
  }
  const value = config.get<string>('AQUEDUCT_WEBHOOK_SECRET');
  if (!value) {
    throw new Error(
      'AQUEDUCT_WEBHOOK_SECRET is not set: in production (NODE_ENV=production) the app does not ' +
        'start without it. Set it to the secret registered with Aqueduct.',
    );
  }
  if (value.split(',').some((secret) => secret.trim() === DEVELOPMENT_SECRET)) {
    throw new Error(
      'AQUEDUCT_WEBHOOK_SECRET holds the development secret, which is public (it is in the ' +
        'README): in production (NODE_ENV=production) the app does not start with it. Set it to ' +
        'the secret registered with Aqueduct.',
    );
  }
}

/**
 * The console at /aqueduct/console: open on a development machine, behind a password in
 * production (AQUEDUCT_CONSOLE_PASSWORD), absent in production without one.
 */
function consoleFromEnv(config: ConfigService): AqueductModuleOptions['console'] {
  const path = 'aqueduct/console';
  if (config.get<string>('NODE_ENV') !== 'production') {
    return { path, allowUnauthenticated: true };
  }
  return config.get<string>('AQUEDUCT_CONSOLE_PASSWORD')
    ? { path, guard: ConsolePasswordGuard }
    : undefined;
}

/** Real mail through SMTP_URL; without it, mails are built and logged but not sent. */
function emailFromEnv(config: ConfigService): AqueductModuleOptions['email'] {
  const from = config.get<string>('EMAIL_FROM') ?? 'Example Billing <billing@example.com>';
  const smtpUrl = config.get<string>('SMTP_URL');
  if (!smtpUrl) {
    new Logger('Example').log(
      'SMTP_URL not set: mails are rendered and logged, not sent (nodemailer jsonTransport)',
    );
    return { transport: { jsonTransport: true }, from };
  }
  return { transport: smtpUrl, from, alertTo: config.get<string>('ALERT_EMAIL') };
}
