import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The name in the library's package.json, which tells it apart from the app's own. */
const PACKAGE_NAME = 'nestjs-aqueduct';

/**
 * The installed library's version, read from its package.json when asked (not compiled in), found
 * by walking up from this file: `src/cli/` in this repository, `dist/cli/` in the published
 * package, where package.json is always included. 'unknown' if none is found.
 */
export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const version = versionIn(join(dir, 'package.json'));
    if (version) {
      return version;
    }
    if (dirname(dir) === dir) {
      return 'unknown';
    }
  }
}

function versionIn(file: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as {
      name?: unknown;
      version?: unknown;
    };
    return manifest.name === PACKAGE_NAME && typeof manifest.version === 'string'
      ? manifest.version
      : undefined;
  } catch {
    return undefined; // no package.json here (or not one we can read): look further up
  }
}
