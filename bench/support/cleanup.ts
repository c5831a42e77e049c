/**
 * Teardown steps, run last-in first-out. Kept in one place so that both the normal end of a run and
 * Ctrl-C leave no child process, database or Postgres cluster behind. Every step must be idempotent:
 * a benchmark may already have run it in its own `finally`.
 */
export class Cleanup {
  private readonly steps: { label: string; run: () => Promise<void> | void }[] = [];
  private running?: Promise<void>;

  defer(label: string, run: () => Promise<void> | void): void {
    this.steps.push({ label, run });
  }

  /**
   * Runs every step even when one fails: a failed DROP must not leave Postgres running. Ctrl-C and
   * the normal end may both call this; they share one pass, so the order stays last-in first-out.
   */
  runAll(): Promise<void> {
    return (this.running ??= this.drain());
  }

  private async drain(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.run();
      } catch (error) {
        console.error(`cleanup: ${step.label} failed: ${(error as Error).message}`);
      }
    }
  }
}

/** Wraps `fn` so that only its first call does anything (later calls share the first promise). */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
