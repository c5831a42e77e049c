import type { Command } from 'commander';
import { signAqueductRequest } from '../../testing/sign-aqueduct-request';
import { printableJson } from '../../utils/printable';
import { ExitCode, output } from '../cli-output';
import { checkUrl, postSigned } from '../http-post';
import { sampleBody } from '../sample-event';
import { addSigningOptions, type SigningFlags, signingOptions } from '../signing-options';

interface SendFlags extends SigningFlags {
  url: string;
  data?: string;
  customerId?: string;
  productId?: string;
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
      .option('--json', 'print the result as JSON'),
  ).action(async (type: string, flags: SendFlags) => {
    const url = checkUrl(flags.url);
    const body = sampleBody(
      type,
      { customerId: flags.customerId, productId: flags.productId },
      flags.data,
    );
    const signed = signAqueductRequest(body, signingOptions(flags));
    const result = await postSigned(url, signed);
    output(
      flags.json,
      { type, status: result.status, body: result.body },
      // The endpoint's answer, as JSON with every control character escaped.
      () => `${result.status} ${printableJson(result.body)}`,
    );
    process.exitCode = result.status >= 200 && result.status < 300 ? ExitCode.Ok : ExitCode.Failed;
  });
}
