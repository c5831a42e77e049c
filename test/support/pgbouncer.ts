import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withClient } from './database';
import { waitFor } from './wait';

/** Where `.ci/run` unpacks Debian's pgbouncer package (not installed: no service is started). */
const UNPACKED = join(__dirname, '..', '..', '.data', 'pgbouncer');

/** A pgbouncer binary, and the directory of the libraries it needs when unpacked; or none. */
export function pgbouncerBinary(): { bin: string; libs?: string } | undefined {
  if (process.env.PGBOUNCER_BIN) {
    return { bin: process.env.PGBOUNCER_BIN };
  }
  if (existsSync('/usr/sbin/pgbouncer')) {
    return { bin: '/usr/sbin/pgbouncer' };
  }
  const bin = join(UNPACKED, 'usr', 'sbin', 'pgbouncer');
  return existsSync(bin)
    ? { bin, libs: join(UNPACKED, 'usr', 'lib', 'x86_64-linux-gnu') }
    : undefined;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(true)); // taken: PgBouncer listens
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });

/** A real PgBouncer in transaction mode in front of `databaseUrl`'s server. */
export class PgBouncer {
  url = '';
  private child?: ChildProcess;
  private dir?: string;

  constructor(private readonly databaseUrl: string) {}

  async start(): Promise<void> {
    const binary = pgbouncerBinary();
    if (!binary) {
      throw new Error(
        'no pgbouncer binary (PGBOUNCER_BIN, /usr/sbin/pgbouncer or .data/pgbouncer)',
      );
    }
    const target = new URL(this.databaseUrl);
    const port = await freePort();
    const dir = (this.dir = mkdtempSync(join(tmpdir(), 'aqueduct-pgbouncer-')));
    chmodSync(dir, 0o755); // run as nobody when the tests run as root
    // With trust auth PgBouncer logs into the server with the password listed here: the embedded
    // Postgres asks for one, the machine's server (trust) ignores it.
    const user = decodeURIComponent(target.username) || 'postgres';
    const password = decodeURIComponent(target.password);
    writeFileSync(join(dir, 'users.txt'), `"${user}" "${password.replace(/"/g, '""')}"\n`, {
      mode: 0o644,
    });
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `* = host=${target.hostname} port=${target.port || 5432}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'auth_type = trust',
        `auth_file = ${join(dir, 'users.txt')}`,
        'pool_mode = transaction',
        'max_client_conn = 200',
        'default_pool_size = 20',
        'unix_socket_dir =',
        'ignore_startup_parameters = extra_float_digits,options',
      ].join('\n'),
      { mode: 0o644 },
    );
    const config = join(dir, 'pgbouncer.ini');
    this.child = spawn(binary.bin, process.getuid?.() === 0 ? ['-u', 'nobody', config] : [config], {
      env: { ...process.env, ...(binary.libs ? { LD_LIBRARY_PATH: binary.libs } : {}) },
      stdio: 'ignore',
    });
    await waitFor(() => listening(port), 5000, 'PgBouncer to listen');
    const url = new URL(this.databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    this.url = url.toString();
    // Fail here, naming the cause, rather than in an app's minute of connection retries.
    await withClient(this.url, (client) => client.query('SELECT 1')).catch((error: Error) => {
      throw new Error(`PgBouncer does not reach ${target.host}: ${error.message}`);
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
    if (this.dir) {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
