import type { Command } from 'commander';
import { signAqueductRequest } from '../../testing/sign-aqueduct-request';
import { printable, printableJson } from '../../utils/printable';
import { ExitCode, output } from '../cli-output';
import { checkUrl, postSigned } from '../http-post';
import { normaliseEventType } from '../../events/aqueduct-event-types';
import { SAMPLE_TYPES, sampleBody } from '../sample-event';
import { WEBHOOK_UNAUTHORIZED } from '../../aqueduct.messages';
import { addSigningOptions, type SigningFlags, signingOptions } from '../signing-options';

/**
 * Answers the module never gives on its route (3xx, 403, 429), or gives only with its own message
 * (401): another one came from the app's own guard, middleware or throttler.
 */
const HOST_REFUSALS: [number, number][] = [
  [300, 399],
  [401, 401],
  [403, 403],
  [429, 429],
];

interface SendFlags extends SigningFlags {
  url: string;
  data?: string;
  customerId?: string;
  productId?: string;
  invoiceId?: string;
  id?: string;
  json?: boolean;
}

/** `send <type>`: the dashboard's "send test event", signed like the app expects. */
export function registerSend(program: Command): void {
  addSigningOptions(
    program
      .command('send')
      .description('send one realistic, signed event to a webhook endpoint and print the answer')
      .argument('<type>', 'event type, e.g. provisioning.start (provisioning_start works too)')
      .requiredOption(
        '--url <url>',
        'the webhook endpoint, e.g. http://localhost:3000/webhooks/aqueduct',
      )
      .option('--data <file>', 'send this JSON file as the body instead of a generated event')
      .option('--customer-id <id>', 'customerId of the generated event')
      .option('--product-id <id>', 'productId of the generated event')
      .option(
        '--invoice-id <id>',
        'invoiceId of the generated provisioning (the same in a start and its end: one provisioning; the customer is owner_<id> unless --customer-id), or the invoice an invoice.paid pays',
      )
      .option(
        '--id <deliveryId>',
        'the delivery id to sign with (standard-webhooks webhook-id, or the delivery id header): ' +
          'send again with the same one, as Aqueduct retries (default: a new one each time)',
      )
      .option('--json', 'print the result as JSON'),
  ).action(async (type: string, flags: SendFlags) => {
    const url = checkUrl(flags.url);
    if (!flags.data && !SAMPLE_TYPES.includes(normaliseEventType(type))) {
      // A typo (`provisoning.start`) is stored and answered 200 like any unknown type: say so.
      process.stderr.write(
        `warning: "${printable(type)}" is none of ${SAMPLE_TYPES.join(', ')}: sent as an event of ` +
          `that type with a generic object (no listener of the module acts on it)\n`,
      );
    }
    const body = sampleBody(
      type,
      { customerId: flags.customerId, productId: flags.productId, invoiceId: flags.invoiceId },
      flags.data,
    );
    const signed = signAqueductRequest(body, signingOptions(flags, flags.id));
    const result = await postSigned(url, signed);
    output(
      flags.json,
      { type, status: result.status, body: result.body },
      // The endpoint's answer, as JSON with every control character escaped.
      () => `${result.status} ${printableJson(result.body)}`,
    );
    const answer = (result.body ?? {}) as { message?: unknown; quarantined?: unknown };
    if (
      HOST_REFUSALS.some(([from, to]) => result.status >= from && result.status <= to) &&
      answer.message !== WEBHOOK_UNAUTHORIZED
    ) {
      process.stderr.write(
        `hint: the app itself answered ${result.status}, not the module (its refusals say ` +
          `"${WEBHOOK_UNAUTHORIZED}"): a global guard, middleware, throttler or interceptor of the ` +
          'app runs on the webhook route. Exempt it (isAqueductWebhookRoute, see the README): ' +
          'Aqueduct would get the same answer and disable the endpoint.\n',
      );
    } else if (result.status === 401) {
      process.stderr.write(
        'hint: the app refused the signature or secret. If it verifies with another scheme, pass ' +
          '--scheme (or set AQUEDUCT_VERIFICATION); check --secret / AQUEDUCT_WEBHOOK_SECRET. The ' +
          "app's log says which scheme the request carried and which one it expects.\n",
      );
    } else if (result.status === 404) {
      process.stderr.write(
        'hint: nothing answers POST at that path. The app logs the path it serves at start-up ' +
          '("Aqueduct webhooks on POST …", a global prefix included): pass that as --url.\n',
      );
    }
    if (answer.quarantined === true) {
      process.stderr.write(
        'warning: stored but quarantined: the module could not understand the event (the errors ' +
          'above name the fields); no listener runs until it is reprocessed or dismissed.\n',
      );
    }
    process.exitCode = result.status >= 200 && result.status < 300 ? ExitCode.Ok : ExitCode.Failed;
  });
}
