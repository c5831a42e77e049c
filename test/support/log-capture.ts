import type { LoggerService } from '@nestjs/common';

/** One line of the app's log, as a `LoggerService` receives it. */
export interface CapturedLine {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  context: string;
  message: string;
}

/**
 * A `LoggerService` that keeps every line, for `createTestApp({ logger })`: what a host sees in
 * its log at start-up. The context is the last string argument, as Nest's `Logger` passes it.
 */
export class LogCapture implements LoggerService {
  readonly lines: CapturedLine[] = [];

  log = this.keep('log');
  error = this.keep('error');
  warn = this.keep('warn');
  debug = this.keep('debug');
  verbose = this.keep('verbose');
  fatal = this.keep('fatal');

  /** The messages (with their context, `Context: message`) matching `pattern`. */
  matching(pattern: RegExp): string[] {
    return this.lines
      .map(({ context, message }) => `${context}: ${message}`)
      .filter((line) => pattern.test(line));
  }

  private keep(level: CapturedLine['level']) {
    return (message: unknown, ...params: unknown[]) => {
      const last = params[params.length - 1];
      this.lines.push({
        level,
        context: typeof last === 'string' ? last : '',
        message: message instanceof Error ? message.message : String(message),
      });
    };
  }
}
