/** Characters of the progress bar. */
const BAR_WIDTH = 30;

/** A one-line progress bar on stderr (only on a terminal, so pipes and logs stay clean). */
export class Progress {
  private finished = 0;
  private delivered = 0;
  constructor(private readonly total: number) {}

  tick(delivered: boolean): void {
    this.finished++;
    this.delivered += delivered ? 1 : 0;
    if (process.stderr.isTTY) {
      const filled = Math.round((this.finished / this.total) * BAR_WIDTH);
      process.stderr.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${this.finished}/${this.total} (${this.delivered} delivered)`,
      );
    }
  }

  done(): void {
    if (process.stderr.isTTY) {
      process.stderr.write('\n');
    }
  }
}
