import { invalidOption } from '../aqueduct.messages';
import {
  CONSOLE_DEFAULTS,
  CONSOLE_MAX_PAGE_SIZE,
  CSRF_SECRET_MIN_LENGTH,
} from './aqueduct-options.defaults';
import type { AqueductConsoleOptions } from './aqueduct-options.interface';
import type { ResolvedConsoleOptions } from './aqueduct-options.resolved';
import { normalisePath, positiveInteger } from './option-checks';

export function resolveConsole(
  options: AqueductConsoleOptions | undefined,
  secrets: string[],
  webhookPath: string,
): ResolvedConsoleOptions | undefined {
  if (options === undefined) {
    return undefined;
  }
  if (!options || typeof options !== 'object') {
    throw new Error(invalidOption('console', 'must be an object with path and guard'));
  }
  const { guard, allowUnauthenticated, csrfSecret } = options;
  if (allowUnauthenticated !== undefined && typeof allowUnauthenticated !== 'boolean') {
    throw new Error(invalidOption('console.allowUnauthenticated', 'must be true or false'));
  }
  if (guard !== undefined && typeof guard !== 'function') {
    throw new Error(invalidOption('console.guard', 'must be a class implementing CanActivate'));
  }
  if (guard === undefined && allowUnauthenticated !== true) {
    throw new Error(
      invalidOption(
        'console.guard',
        'is required: the console shows payloads and replays events. Give a CanActivate class, ' +
          'or set console.allowUnauthenticated: true for local development only',
      ),
    );
  }
  if (
    csrfSecret !== undefined &&
    (typeof csrfSecret !== 'string' || csrfSecret.length < CSRF_SECRET_MIN_LENGTH)
  ) {
    throw new Error(
      invalidOption(
        'console.csrfSecret',
        `must be a string of ${CSRF_SECRET_MIN_LENGTH}+ characters`,
      ),
    );
  }
  if (csrfSecret === undefined && secrets.length === 0) {
    throw new Error(
      invalidOption(
        'console.csrfSecret',
        'is required when no webhook secret is configured (it signs the console forms)',
      ),
    );
  }
  const path = normalisePath(options.path ?? CONSOLE_DEFAULTS.path, 'console.path');
  if (path === webhookPath) {
    throw new Error(invalidOption('console.path', 'must differ from the webhook path'));
  }
  const pageSize = positiveInteger('console.pageSize', options.pageSize, CONSOLE_DEFAULTS.pageSize);
  if (pageSize > CONSOLE_MAX_PAGE_SIZE) {
    throw new Error(invalidOption('console.pageSize', `must be at most ${CONSOLE_MAX_PAGE_SIZE}`));
  }
  return { ...options, path, allowUnauthenticated: allowUnauthenticated ?? false, pageSize };
}
