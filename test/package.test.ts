import { execFileSync } from 'child_process';
import * as path from 'path';

const root = path.join(__dirname, '..');

/** Files `npm pack` would ship, from npm itself (the build has run before the tests). */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
}

describe('npm package', () => {
  const files = packedFiles();

  test('ships the jsii assembly, the compiled lib, the runtime entry and the handler bundles', () => {
    // GIVEN the built package WHEN npm packs it THEN users get what synth and the runtime import need
    expect(files).toEqual(expect.arrayContaining([
      '.jsii', 'README.md', 'LICENSE', 'package.json',
      'lib/index.js', 'lib/index.d.ts',
      'runtime/index.js', 'runtime/index.d.ts',
      'assets/dispatcher/index.js',
    ]));
  });

  test('ships no TypeScript sources, tests or build tooling', () => {
    // GIVEN the packed file list WHEN filtered for what users must not receive THEN nothing is left
    const unwanted = files.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts'))
      || /^(test|testenv|scripts|bin|bench|\.ci)\//.test(f) || f.startsWith('runtime/handlers/'));
    expect(unwanted).toEqual([]);
  });

  test('the runtime entry resolves through package.json exports', () => {
    // GIVEN the package's exports map WHEN cdk-kafka-lambda/runtime is required from outside THEN it loads
    const resolved = require.resolve('cdk-kafka-lambda/runtime', { paths: [root] });
    expect(path.relative(root, resolved)).toBe(path.join('runtime', 'index.js'));
  });
});
