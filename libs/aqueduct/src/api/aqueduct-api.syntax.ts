/** Visible ASCII only: what a header value can carry without fetch rejecting it (and echoing it). */
export const HEADER_TOKEN = /^[\x21-\x7e]+$/;

/** Whether `value` is an absolute http:// or https:// URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
