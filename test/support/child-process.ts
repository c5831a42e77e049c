import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * The tables the child app's `effect` listener writes: a marker as each run starts (with its
 * `firstRun`), then the effect itself, once per key.
 */
export const CHILD_EFFECT_TABLES_SQL = `
CREATE TABLE test_markers (key text NOT NULL, pid int NOT NULL, first_run boolean NOT NULL, at timestamptz DEFAULT now());
CREATE TABLE test_effects (key text PRIMARY KEY, pid int NOT NULL)`;

export interface RunningChild {
  process: ChildProcess;
  port: number;
  output: () => string;
}

/** Starts test/support/child-app.ts in its own Node process and waits for its port. */
export function startChildApp(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<RunningChild> {
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      join(ROOT, 'test/support/child-app.ts'),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`child app did not start:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /READY (\d+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve({ process: child, port: Number(ready[1]), output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child app exited with ${code}:\n${output}`));
    });
  });
}

/** SIGKILL: no shutdown hook runs, exactly like a crash or an OOM kill. */
export function killHard(child: RunningChild): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      return resolve();
    }
    child.process.removeAllListeners('exit');
    child.process.once('exit', () => resolve());
    child.process.kill('SIGKILL');
  });
}
