import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');
const LIBRARY = join(ROOT, 'libs', 'aqueduct');
/**
 * Where the CLI is built for the tests: inside the library's folder, so that its version is found
 * in libs/aqueduct/package.json (as in the published package) and node_modules up the tree.
 */
const BUILDS = join(LIBRARY, '.test-build');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `nestjs-aqueduct` CLI as a user runs the installed binary: compiled JavaScript, built by
 * tsc from the library's sources as `npm run build:lib` builds the package's bin. Each call starts
 * in ~1 s; under ts-node it took ~5 s, most of the CLI tests' time.
 */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const main = await builtCli();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [main, ...args],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let build: Promise<string> | undefined;

/**
 * The CLI built from the sources as they are now: one build per state of the sources (named by
 * their paths, sizes and modification times), shared by every test file and run until they change.
 * Jest's workers may build at once: each builds into a folder of its own, then renames it into
 * place; a rename that finds the folder there lost the race, and its copy is dropped.
 */
function builtCli(): Promise<string> {
  build ??= (async () => {
    const stamp = sourceStamp();
    const dir = join(BUILDS, stamp);
    const main = join(dir, 'cli', 'main.js');
    if (existsSync(main)) {
      return main;
    }
    const own = `${dir}.${process.pid}`;
    await promisify(execFile)(process.execPath, [
      require.resolve('typescript/bin/tsc'),
      ...['-p', join(LIBRARY, 'tsconfig.lib.json'), '--outDir', own],
      ...['--declaration', 'false', '--sourceMap', 'false', '--inlineSources', 'false'],
    ]);
    try {
      renameSync(own, dir);
    } catch {
      rmSync(own, { recursive: true, force: true });
    }
    for (const old of readdirSync(BUILDS)) {
      if (old !== stamp && !old.includes('.')) {
        rmSync(join(BUILDS, old), { recursive: true, force: true });
      }
    }
    return main;
  })();
  return build;
}

function sourceStamp(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path);
      } else {
        const { size, mtimeMs } = statSync(path);
        hash.update(`${path}\0${size}\0${mtimeMs}\n`);
      }
    }
  };
  walk(join(LIBRARY, 'src'));
  for (const config of [join(LIBRARY, 'tsconfig.lib.json'), join(ROOT, 'tsconfig.json')]) {
    const { size, mtimeMs } = statSync(config);
    hash.update(`${config}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}
