import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { DEVELOPMENT_SECRET } from '../src/app.config';
import { runCli } from './support/cli';

/** The CLI's global options and what it takes from the environment: --version, --help, schemes. */
describe('nestjs-aqueduct options and environment', () => {
  it('--version and -V print the version in libs/aqueduct/package.json', async () => {
    const { version } = JSON.parse(
      readFileSync(join(__dirname, '..', 'libs', 'aqueduct', 'package.json'), 'utf8'),
    ) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it("no command's --help prints a secret, an API key or a database URL from the environment", async () => {
    const env = {
      AQUEDUCT_WEBHOOK_SECRET: 'whsec_HELPLEAKsecret0123456789',
      AQUEDUCT_API_KEY: 'ak_HELPLEAKkey0123456789',
      AQUEDUCT_API_URL: 'https://helpleak-api.example',
      DATABASE_URL: 'postgres://helpleakuser:HELPLEAKpassword@helpleak-db.example:5432/helpleakdb',
      AQUEDUCT_VERIFICATION: 'hmac',
    };
    const commands = [
      [],
      ['send'],
      ['simulate'],
      ['events'],
      ...['list', 'show', 'replay', 'redrive', 'reprocess', 'dismiss', 'prune'].map((c) => [
        'events',
        c,
      ]),
      ['access'],
      ...['show', 'check'].map((c) => ['access', c]),
      ['endpoints'],
      ...['register', 'list', 'check'].map((c) => ['endpoints', c]),
    ];
    // Two at a time: each is a process of its own (and the test's machine has two cores).
    const results: { command: string; text: string; code: number }[] = [];
    const queue = [...commands];
    await Promise.all(
      [0, 1].map(async () => {
        for (let args = queue.shift(); args; args = queue.shift()) {
          const result = await runCli([...args, '--help'], env);
          results.push({
            command: args.join(' ') || '(root)',
            text: result.stdout + result.stderr,
            code: result.code,
          });
        }
      }),
    );
    expect(results).toHaveLength(commands.length);
    for (const { command, text, code } of results) {
      expect({ command, code }).toEqual({ command, code: 0 });
      expect(text).toContain('Usage: nestjs-aqueduct');
      // Compared case-insensitively: --help must not print any part of these values.
      expect({ command, leaked: /helpleak/i.test(text) }).toEqual({ command, leaked: false });
    }
    // Where the values come from is said instead.
    const help = (name: string) => results.find((r) => r.command === name)!.text;
    for (const name of ['send', 'simulate']) {
      expect(help(name)).toMatch(
        /--secret <secret>\s+the webhook secret .*\(or\s+env\s+AQUEDUCT_WEBHOOK_SECRET\)/s,
      );
      expect(help(name)).toMatch(
        /--scheme <scheme>.*\(or\s+env\s+AQUEDUCT_VERIFICATION; else\s+shared-secret\)/s,
      );
      expect(help(name)).not.toContain('default: "hmac"');
    }
    expect(help('events list')).toMatch(/\(or\s+env\s+DATABASE_URL\)/);
    expect(help('endpoints list')).toMatch(/\(or\s+env\s+AQUEDUCT_API_KEY\)/);
  }, 300_000);

  describe('AQUEDUCT_VERIFICATION chooses the default --scheme', () => {
    let server: Server;
    let url: string;
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          received.push({ headers: req.headers, body });
          res.setHeader('content-type', 'application/json');
          res.end('{"received":true}');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}/webhooks/aqueduct`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** `send`, with the secret from the environment; the request the endpoint got. */
    const send = async (verification: string, args: string[] = []) => {
      const before = received.length;
      const result = await runCli(['send', 'provisioning.start', '--url', url, ...args], {
        AQUEDUCT_WEBHOOK_SECRET: DEVELOPMENT_SECRET,
        AQUEDUCT_VERIFICATION: verification,
      });
      return { result, request: received.length > before ? received.at(-1) : undefined };
    };

    it('standard-webhooks from the environment: signed so that a Standard Webhooks verifier accepts it', async () => {
      const { result, request } = await send('standard-webhooks');
      expect(result.code).toBe(0);
      expect(request).toBeDefined();
      const headers = request!.headers as Record<string, string>;
      expect(() => new Webhook(DEVELOPMENT_SECRET).verify(request!.body, headers)).not.toThrow();
      expect(headers.authorization).toBeUndefined();
    });

    it('simulate reads it too', async () => {
      const before = received.length;
      const result = await runCli(
        ['simulate', '--url', url, '--events', '1', '--duplicates', '0', '--json'],
        { AQUEDUCT_WEBHOOK_SECRET: DEVELOPMENT_SECRET, AQUEDUCT_VERIFICATION: 'standard-webhooks' },
      );
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ delivered: 1 });
      expect(received.slice(before).map((r) => r.headers['webhook-signature'])).toEqual([
        expect.stringMatching(/^v1,/),
      ]);
    });

    it('standard-webhooks with a secret that is not one: usage error naming the form, nothing sent', async () => {
      const before = received.length;
      const result = await runCli(['send', 'provisioning.start', '--url', url], {
        AQUEDUCT_WEBHOOK_SECRET: 'my-plain-secret',
        AQUEDUCT_VERIFICATION: 'standard-webhooks',
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('not a Standard Webhooks secret (whsec_<base64>)');
      expect(result.stderr).not.toContain('    at ');
      expect(received.length).toBe(before);
    });

    it('--scheme wins over it', async () => {
      const { result, request } = await send('standard-webhooks', ['--scheme', 'hmac']);
      expect(result.code).toBe(0);
      expect(request!.headers['x-aqueduct-signature']).toMatch(/^[0-9a-f]{64}$/);
      expect(request!.headers['webhook-signature']).toBeUndefined();
    });

    it('unset (empty): shared-secret', async () => {
      const { result, request } = await send('');
      expect(result.code).toBe(0);
      expect(request!.headers.authorization).toBe(`Bearer ${DEVELOPMENT_SECRET}`);
      expect(request!.headers['webhook-signature']).toBeUndefined();
    });

    it('a value that is no scheme: usage error (exit 2) naming the variable, nothing sent; --scheme still works', async () => {
      const { result, request } = await send('standard_webhook');
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('AQUEDUCT_VERIFICATION must be one of');
      expect(result.stderr).toContain('"standard_webhook"');
      expect(request).toBeUndefined();

      const flagged = await send('standard_webhook', ['--scheme', 'shared-secret']);
      expect(flagged.result.code).toBe(0);
      expect(flagged.request!.headers.authorization).toBe(`Bearer ${DEVELOPMENT_SECRET}`);
    });

    it('without a secret anywhere: usage error (exit 2), nothing sent', async () => {
      const before = received.length;
      const result = await runCli(['send', 'provisioning.start', '--url', url], {
        AQUEDUCT_WEBHOOK_SECRET: '',
        AQUEDUCT_VERIFICATION: '',
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--secret is required (or set AQUEDUCT_WEBHOOK_SECRET)');
      expect(received.length).toBe(before);
    });
  });
});
