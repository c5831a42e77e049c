// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';
import { LAYERS, ROOT_BASE_FILES } from './libs/aqueduct/layers.mjs';

const LIBRARY = resolve(dirname(fileURLToPath(import.meta.url)), 'libs/aqueduct/src');

/** The layer of a file of the library, or undefined outside it. */
function layerOf(file) {
  const path = relative(LIBRARY, file);
  if (path.startsWith('..')) {
    return undefined;
  }
  const [first, ...rest] = path.split(sep);
  if (rest.length === 0) {
    const name = first.replace(/(\.ts)?$/, '.ts');
    return ROOT_BASE_FILES.includes(name) ? 0 : LAYERS.indexOf('(module)');
  }
  const index = LAYERS.indexOf(first);
  return index < 0 ? undefined : index;
}

/** `aqueduct/layers`: no relative import from a layer above (see libs/aqueduct/layers.mjs). */
const layersRule = {
  meta: {
    type: 'problem',
    messages: {
      upward:
        '{{from}} may not import from {{to}}: layers point down ({{order}}; see docs/architecture.md)',
    },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const own = layerOf(file);
    if (own === undefined || file.endsWith('.spec.ts')) {
      return {};
    }
    const check = (node) => {
      const source = node.source?.value;
      if (typeof source !== 'string' || !source.startsWith('.')) {
        return;
      }
      const target = layerOf(resolve(dirname(file), source));
      if (target !== undefined && target > own) {
        context.report({
          node: node.source,
          messageId: 'upward',
          data: {
            from: LAYERS[own] ?? 'root',
            to: LAYERS[target],
            order: LAYERS.join(' → '),
          },
        });
      }
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'libs/aqueduct/dist/**', 'coverage/**', '.data/**', '*.mjs', '*.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: false },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['libs/aqueduct/src/**/*.ts'],
    plugins: { aqueduct: { rules: { layers: layersRule } } },
    rules: { 'aqueduct/layers': 'error' },
  },
);
