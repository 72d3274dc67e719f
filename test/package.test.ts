import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..');

/** Files `npm pack` would ship, from npm itself (the build has run before the tests). */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
}

describe('npm package', () => {
  const files = packedFiles();

  test('ships the jsii assembly, the compiled lib, the runtime entry and the handler bundles', () => {
    // GIVEN the built package WHEN npm packs it THEN users get what synth and the runtime import need
    expect(files).toEqual(
      expect.arrayContaining([
        '.jsii',
        'README.md',
        'LICENSE',
        'package.json',
        'build/lib/index.js',
        'build/lib/index.d.ts',
        'build/runtime/index.js',
        'build/runtime/index.d.ts',
        'assets/dispatcher/index.js',
        'API.md',
      ]),
    );
  });

  test('ships the cdk-kafka-lambda command as one self-contained bundle', () => {
    // GIVEN package.json's bin WHEN its file is read THEN it is packed, runs with node, and requires nothing
    // but Node's built-ins (kafkajs and the AWS SDK clients are inside it; the package has no dependencies)
    const bin = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).bin['cdk-kafka-lambda'];
    expect(files).toContain(bin);
    const code = fs.readFileSync(path.join(root, bin), 'utf8');
    expect(code.startsWith('#!/usr/bin/env node\n')).toBe(true);
    // The SDK tries the CRT signer only for SigV4a (multi-region access points), inside a try/catch.
    const optional = ['@aws-sdk/signature-v4-crt'];
    // Ajv keeps require("ajv/dist/runtime/…") as text (quoted or in a template) for its standalone code generation, never run.
    const required = [...code.matchAll(/(?<!['`])require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    expect(
      required.filter((m) => !m.startsWith('node:') && !require('module').builtinModules.includes(m) && !optional.includes(m)),
    ).toEqual([]);
  });

  test('ships only the compiled lib, the runtime entry, the contract, assets, the command, the assembly and the docs', () => {
    // GIVEN the packed file list WHEN each path is checked against what users need THEN nothing else is shipped
    const allowed = [
      /^(\.jsii|API\.md|README\.md|LICENSE|package\.json)$/,
      /^docs\/[^/]+\.md$/,
      /^build\/lib\/.+\.(js|d\.ts)$/,
      /^build\/runtime\/(?!handlers\/).+\.(js|d\.ts)$/,
      /^build\/contract\/.+\.(js|d\.ts)$/,
      /^assets\/[^/]+\/.+$/,
      /^build\/cli\/cdk-kafka-lambda\.js$/,
    ];
    expect(files.filter((f) => !allowed.some((re) => re.test(f)))).toEqual([]);
  });

  test('every compiled module ships with its type declarations', () => {
    // GIVEN the JavaScript files of lib/ and runtime/ WHEN their .d.ts is looked up THEN none is missing
    const modules = files.filter((f) => /^build\/(lib|runtime|contract)\/.+\.js$/.test(f));
    expect(modules.length).toBeGreaterThan(0);
    expect(modules.filter((f) => !files.includes(f.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });

  test('ships no TypeScript sources, tests or build tooling', () => {
    // GIVEN the packed file list WHEN filtered for what users must not receive THEN nothing is left
    const unwanted = files.filter(
      (f) =>
        (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
        /^(test|testenv|scripts|bin|bench|e2e|cli|lib|runtime|contract|\.ci)\//.test(f) ||
        f.startsWith('build/runtime/handlers/'),
    );
    expect(unwanted).toEqual([]);
  });

  test('carries the metadata Construct Hub indexes', () => {
    // GIVEN package.json WHEN read as Construct Hub reads it THEN it finds a CDK v2 construct library with
    // a stability, a license, a repository and the jsii targets it lists languages for
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.keywords).toEqual(expect.arrayContaining(['cdk', 'awscdk', 'aws-cdk']));
    expect(['experimental', 'stable', 'deprecated']).toContain(pkg.stability);
    expect(pkg.awscdkio).toEqual(expect.objectContaining({ announce: expect.any(Boolean) }));
    expect(pkg).toEqual(
      expect.objectContaining({ license: 'Apache-2.0', repository: expect.objectContaining({ url: expect.any(String) }) }),
    );
    expect(Object.keys(pkg.jsii.targets).sort()).toEqual(['go', 'java', 'python']);
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    expect(pkg.dependencies ?? {}).toEqual({});
  });

  test('the runtime entry resolves through package.json exports', () => {
    // GIVEN the package's exports map WHEN cdk-kafka-lambda/runtime is required from outside THEN it loads
    const resolved = require.resolve('cdk-kafka-lambda/runtime', { paths: [root] });
    expect(path.relative(root, resolved)).toBe(path.join('build', 'runtime', 'index.js'));
  });
});
