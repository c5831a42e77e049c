/** What `AqueductApiError` is built from. */
export interface AqueductApiErrorInit {
  message: string;
  method: string;
  path: string;
  status?: number;
  code?: string;
  attempts: number;
  body?: unknown;
  cause?: unknown;
}

/**
 * A call to Aqueduct's API failed. `status` is the HTTP status, or undefined when no response came
 * (network error, timeout). `code` and the message come from Aqueduct's JSON error body when it
 * has one. Neither the message, the stack, the JSON form nor `body` ever carries the API key: the
 * client only knows it in a header and redacts it from anything a response echoes.
 */
export class AqueductApiError extends Error {
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly method: string;
  /** Path of the call, without the base URL. */
  readonly path: string;
  /** Attempts made, retries included. */
  readonly attempts: number;
  /** Parsed JSON body of the error response, when there was one. */
  readonly body: unknown;

  constructor(init: AqueductApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'AqueductApiError';
    this.status = init.status;
    this.code = init.code;
    this.method = init.method;
    this.path = init.path;
    this.attempts = init.attempts;
    this.body = init.body;
  }

  /** `message` and `name` are not enumerable on an Error: without this a logger would drop them. */
  toJSON() {
    return {
      name: this.name,
      message: this.message,
      status: this.status,
      code: this.code,
      method: this.method,
      path: this.path,
      attempts: this.attempts,
      body: this.body,
    };
  }
}
