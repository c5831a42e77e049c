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
  let secret = config.get<string>('AQUEDUCT_WEBHOOK_SECRET');
  if (!secret) {
    new Logger('Example').warn(
      'AQUEDUCT_WEBHOOK_SECRET not set: using the development secret (see README)',
    );
    secret = DEVELOPMENT_SECRET;
  }
  const scheme = (config.get<string>('AQUEDUCT_VERIFICATION') ?? 'shared-secret') as Exclude<
    VerificationScheme,
    'custom'
  >;
  return {
    // Several comma-separated secrets are accepted during a rotation.
    secrets: secret.split(',').map((s) => s.trim()),
    verification: { scheme } as AqueductModuleOptions['verification'],
    path: config.get<string>('AQUEDUCT_WEBHOOK_PATH') ?? 'webhooks/aqueduct',
    email: emailFromEnv(config),
    console: consoleFromEnv(config),
  };
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
