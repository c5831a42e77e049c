import { API_ERROR_MESSAGE_MAX_LENGTH } from './aqueduct-api.constants';
import { isRecord } from '../utils/is-record';

/**
 * Reads `code` and message out of an error body whose exact shape Aqueduct does not document.
 * Understood: `{ message }`, `{ error }`, `{ detail }` (Django REST Framework), `{ error: { code,
 * message } }`, `{ code, message }`, `{ error: 'code', message }`, and DRF field errors
 * (`{ url: ['Enter a valid URL.'] }` → `url: Enter a valid URL.`).
 */
export function describeErrorBody(body: unknown): { code?: string; message?: string } {
  if (!isRecord(body)) {
    return {};
  }
  const nested = isRecord(body.error) ? body.error : undefined;
  const errorText = typeof body.error === 'string' ? body.error : undefined;
  const hasMessage = text(body.message) !== undefined || text(nested?.message) !== undefined;
  const message =
    text(body.message) ??
    text(nested?.message) ??
    text(body.detail) ??
    listText(body.detail) ??
    text(errorText) ??
    fieldErrors(body);
  // `{ error: 'invalid_request', message: '...' }`: the short `error` is then the code.
  const code = text(body.code) ?? text(nested?.code) ?? (hasMessage ? text(errorText) : undefined);
  return { code, message: message === undefined ? undefined : truncate(message) };
}

function fieldErrors(body: Record<string, unknown>): string | undefined {
  const parts = Object.entries(body).flatMap(([field, value]) => {
    // Only lists: DRF always sends field errors as lists, and a lone string (`status: 'error'`)
    // is more likely a label than a message.
    const messages = Array.isArray(value) ? value.filter(isText) : [];
    return messages.length ? [`${field}: ${messages.join(' ')}`] : [];
  });
  return parts.length ? parts.join('; ') : undefined;
}

/** FastAPI-style `detail: [{ loc, msg }]`. */
function listText(value: unknown): string | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const parts = value
    .map((item) =>
      isText(item) ? item : isRecord(item) ? (text(item.msg) ?? text(item.message)) : undefined,
    )
    .filter(isText);
  return parts.length ? parts.join('; ') : undefined;
}

function text(value: unknown): string | undefined {
  return isText(value) ? value.trim() : undefined;
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function truncate(message: string): string {
  return message.length > API_ERROR_MESSAGE_MAX_LENGTH
    ? `${message.slice(0, API_ERROR_MESSAGE_MAX_LENGTH)}…`
    : message;
}
