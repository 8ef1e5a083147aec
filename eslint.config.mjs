// ESLint runs only the type-aware promise rules that Biome cannot check reliably (it does not see the
// types of node: modules and of some library calls). Everything else — the rest of the lint and all
// formatting — is Biome's (biome.jsonc). See docs/architecture.md, "Quality gate".
import tseslint from 'typescript-eslint';

export default [
  {
    files: ['{src,test,web,examples}/**/*.ts'],
    ignores: ['**/*.d.ts', '**/*.d.mts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
];
