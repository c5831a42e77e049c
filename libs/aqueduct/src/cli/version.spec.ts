import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageVersion } from './version';

describe('packageVersion', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'aqueduct-version-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const write = (dir: string, manifest: object) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  };

  it("from the packed package's dist/cli/, inside an app: the library's version, not the app's", () => {
    write(root, { name: 'my-app', version: '9.9.9' });
    const pkg = join(root, 'node_modules', 'nestjs-aqueduct');
    write(pkg, { name: 'nestjs-aqueduct', version: '1.2.3' });
    mkdirSync(join(pkg, 'dist', 'cli'), { recursive: true });
    expect(packageVersion(join(pkg, 'dist', 'cli'))).toBe('1.2.3');
  });

  it("'unknown' when no package.json of the library is above it", () => {
    write(root, { name: 'my-app', version: '9.9.9' });
    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    expect(packageVersion(join(root, 'dist', 'cli'))).toBe('unknown');
  });

  it('from source: the version in libs/aqueduct/package.json', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
    expect(packageVersion()).toBe(manifest.version);
  });
});
