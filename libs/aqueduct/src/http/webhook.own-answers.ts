/** The refusals the module itself answers on the webhook route (401, 503, 400, 500). */
const OWN = new WeakSet<object>();

/** Marks an exception the module throws on the webhook route as its own answer. */
export function ownAnswer<T extends object>(exception: T): T {
  OWN.add(exception);
  return exception;
}

/**
 * Whether the module answered this itself. Anything else reaching the route's filter came from the
 * host's global guards, interceptors or pipes, which run before the module sees the request.
 */
export function isOwnAnswer(exception: unknown): boolean {
  return typeof exception === 'object' && exception !== null && OWN.has(exception);
}

/** Webhook requests whose refusal the module answered or counted already. */
const NOTED = new WeakSet<object>();

/** Marks a webhook request whose refusal is answered or counted: nothing else counts it again. */
export function noteRefusal(request: object): void {
  NOTED.add(request);
}

/** Whether a refusal of this request was answered or counted by the module. */
export function isRefusalNoted(request: object): boolean {
  return NOTED.has(request);
}
