import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The names an entry point exports: it has named exports only (no `export *`). */
function exportedNames(file: string): string[] {
  const source = readFileSync(join(__dirname, file), 'utf8');
  expect(source).not.toMatch(/export \*/);
  const names: string[] = [];
  for (const [, list] of source.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    for (const item of list.split(',')) {
      const name = item.replace(/^\s*type\s+/, '').trim();
      if (name) {
        names.push(name);
      }
    }
  }
  return names.sort();
}

/** The names the package README's "API" section lists for one entry point. */
function documentedNames(entry: 'main' | 'testing'): string[] {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## API'), readme.indexOf('## Options'));
  const split = section.indexOf('`nestjs-aqueduct/testing`:');
  const part = entry === 'main' ? section.slice(0, split) : section.slice(split);
  const names = [...part.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map(([, name]) => name);
  return [...new Set(names)].sort();
}

describe('the public API', () => {
  it('nestjs-aqueduct exports exactly what the README documents', () => {
    expect(exportedNames('index.ts')).toEqual(documentedNames('main'));
  });

  it('nestjs-aqueduct/testing exports exactly what the README documents', () => {
    expect(exportedNames('testing/index.ts')).toEqual(documentedNames('testing'));
  });

  it('exports each name once', () => {
    const names = exportedNames('index.ts');
    expect(names).toEqual([...new Set(names)]);
  });
});
