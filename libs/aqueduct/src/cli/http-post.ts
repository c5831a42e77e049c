import { CliError, ExitCode } from './cli-output';

/** Time allowed for the endpoint to answer one request. */
const REQUEST_TIMEOUT_MS = 15_000;

export interface PostResult {
  status: number;
  body: unknown;
}

/** POSTs a signed body; a network failure becomes an `Unreachable` error. */
export async function postSigned(
  url: string,
  signed: { body: string; headers: Record<string, string> },
): Promise<PostResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CliError(`cannot reach ${url}: ${cause}`, ExitCode.Unreachable);
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}

export function checkUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
      return url;
    }
  } catch {
    // reported below
  }
  throw new CliError(`--url must be an http(s) URL, got "${url}"`, ExitCode.Usage);
}
