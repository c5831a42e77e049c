/** Text of the errors the API client throws, in one place (as aqueduct.messages.ts does). */

export const invalidClientOption = (field: string, problem: string) =>
  `AqueductApiClient: option "${field}" ${problem}.`;

export const invalidArgument = (method: string, field: string, problem: string) =>
  `AqueductApiClient.${method}(): "${field}" ${problem}.`;

export const MISSING_API_KEY =
  'AqueductApiClient: option "apiKey" is required (an Aqueduct API key; is AQUEDUCT_API_KEY set?).';

/** Never echoes the key: a malformed one is still a secret. */
export const MALFORMED_API_KEY =
  'AqueductApiClient: option "apiKey" must not contain spaces or control characters ' +
  '(a stray newline from an env file?).';

export const httpFailure = (method: string, path: string, status: number, detail: string) =>
  `Aqueduct API ${method} ${path} answered ${status}: ${detail}`;

export const networkFailure = (method: string, path: string, detail: string, attempts: number) =>
  `Aqueduct API ${method} ${path} failed: ${detail}` +
  (attempts > 1 ? ` (after ${attempts} attempts)` : '');
