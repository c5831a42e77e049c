/**
 * What an operator's request about stored events can run into. Domain errors, not HTTP ones: the
 * console answers them with its pages (404, 422), the CLI with its exit codes, a host as it likes.
 */
export class AqueductAdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** No such event, or no delivery in the state the operation needs. */
export class AqueductNotFoundError extends AqueductAdminError {}

/** A quarantined event that today's DTOs still refuse (a replay cannot run it). */
export class AqueductEventStillInvalidError extends AqueductAdminError {
  constructor(
    readonly eventId: string,
    readonly errors: string[],
  ) {
    super(`Event ${eventId} is still invalid: ${errors.join('; ')}`);
  }
}
