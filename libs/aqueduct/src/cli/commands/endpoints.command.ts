import type { Command } from 'commander';
import { output, printable, table } from '../cli-output';
import { addApiOptions, apiClient, type ApiFlags, callApi } from './api.options';
import { registerEndpointsCheck } from './endpoints-check.command';
import { registerEndpointsRegister } from './endpoints-register.command';

/** `endpoints register|list|check`: Aqueduct's webhook endpoints, without hand-written curl. */
export function registerEndpoints(program: Command): void {
  const endpoints = program
    .command('endpoints')
    .description("register, list and check webhook endpoints on Aqueduct's API");
  registerEndpointsRegister(endpoints);
  registerEndpointsList(endpoints);
  registerEndpointsCheck(endpoints);
}

/** `endpoints list`: the endpoints registered on the account. */
function registerEndpointsList(endpoints: Command): void {
  addApiOptions(
    endpoints.command('list').description('the webhook endpoints registered on your account'),
  ).action(async (flags: ApiFlags) => {
    const list = await callApi(() => apiClient(flags).listWebhookEndpoints());
    output(flags.json, list, () =>
      table(
        ['id', 'url', 'events', 'created'],
        list.map((e) => [
          printable(e.id),
          printable(e.url),
          e.enabledEvents.map(printable).join(','),
          printable(e.createdAt),
        ]),
      ),
    );
  });
}
