import {
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  Injectable,
  Module,
} from '@nestjs/common';
import {
  type AqueductEvent,
  type AqueductListenerContext,
  type AqueductModuleOptions,
  OnAqueductEvent,
} from 'nestjs-aqueduct';
import { signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import type { TestAppSetup } from './use-test-app';

export const CONSOLE_SECRET = 'console-test-secret';
export const CONSOLE_PATH = '/aqueduct/console';
/** The event type the test listener handles; `object.fail` makes it throw. */
export const CONSOLE_TEST_EVENT = 'console.test';

/** A host service the guard reads: tests flip it to see every route refused. */
@Injectable()
export class ConsoleAccessSwitch {
  allow = true;
}

/** The host's guard, with its own dependency: proves it is resolved from the host's providers. */
@Injectable()
export class SwitchGuard implements CanActivate {
  constructor(private readonly accessSwitch: ConsoleAccessSwitch) {}

  canActivate(_context: ExecutionContext): boolean {
    return this.accessSwitch.allow;
  }
}

/** Counts runs per event, and fails the ones asked to fail (with their `note` in the error). */
@Injectable()
export class ConsoleTestListener {
  readonly runs = new Map<string, number>();

  @OnAqueductEvent(CONSOLE_TEST_EVENT, { name: 'console-test' })
  handle(event: AqueductEvent, _context: AqueductListenerContext) {
    this.runs.set(event.id, (this.runs.get(event.id) ?? 0) + 1);
    const { fail, note } = (event.object ?? {}) as { fail?: boolean; note?: string };
    if (fail) {
      throw new Error(`console-test listener failed as asked${note ? `: ${note}` : ''}`);
    }
  }
}

@Module({
  providers: [ConsoleAccessSwitch, SwitchGuard, ConsoleTestListener],
  exports: [ConsoleAccessSwitch],
})
export class ConsoleHostModule {}

/** An app with the console behind `SwitchGuard`, listeners that run at once, one attempt each. */
export function consoleAppSetup(
  console: AqueductModuleOptions['console'] = { guard: SwitchGuard },
): TestAppSetup {
  return {
    aqueduct: {
      secrets: [CONSOLE_SECRET],
      console,
      dispatch: { pollIntervalMs: 100, maxAttempts: 1 },
    },
    imports: [ConsoleHostModule],
  };
}

/** POSTs a signed event the way Aqueduct does; returns the stored event's id. */
export async function sendEvent(app: INestApplication, payload: unknown): Promise<string> {
  const { body, headers } = signAqueductRequest(payload, {
    scheme: 'shared-secret',
    secret: CONSOLE_SECRET,
  });
  const response = await request(app.getHttpServer())
    .post('/webhooks/aqueduct')
    .set(headers)
    .send(body);
  if (!response.body?.id) {
    throw new Error(`event not stored: ${response.status} ${response.text}`);
  }
  return response.body.id;
}

/** The CSRF token a page's forms carry. */
export function formToken(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) {
    throw new Error('no CSRF field on the page');
  }
  return match[1];
}
