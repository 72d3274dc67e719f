#!/usr/bin/env node
'use strict';
/**
 * npm run build: compiles the constructs (lib/), the runtime (cdk-kafka-lambda/runtime) and their contract with
 * jsii into build/, bundles each runtime/handlers/<name>.ts with esbuild into assets/<name>/index.js for the
 * Node.js version of the functions the constructs create, bundles the local event source mapping command into
 * build/cli/cdk-kafka-lambda.js, and writes API.md with jsii-docgen. The example app (bin/) and the fault ledger
 * (e2e/) run from their sources with tsx.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
const timed = (label, fn) => {
  const start = Date.now();
  fn();
  process.stderr.write(`build: ${label} ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
};

// metadata/missing-dev-dependency (JSII6) asks for the devDependency to be the peer range's minimum: development
// uses a newer aws-cdk-lib, and the floor test project (jest.config.js) runs the tests on that minimum instead.
timed('jsii', () => run(bin('jsii'), ['--silence-warnings=reserved-word', '--silence-warnings=metadata/missing-dev-dependency']));

const bundle = async () => {
  const { ESBUILD_TARGET } = require(path.join(root, 'build', 'lib', 'private', 'handler-runtime.js'));
  const handlersDir = path.join(root, 'runtime', 'handlers');
  const esbuild = require('esbuild');
  // Optional esbuild plugins per handler (e.g. to leave unused parts of a dependency out).
  const plugins = require(path.join(root, 'scripts', 'handler-bundle-plugins.js'));
  for (const file of fs.readdirSync(handlersDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
    const name = path.basename(file, '.ts');
    const outdir = path.join(root, 'assets', name);
    fs.rmSync(outdir, { recursive: true, force: true });
    await esbuild.build({
      entryPoints: [path.join(handlersDir, file)],
      outfile: path.join(outdir, 'index.js'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: ESBUILD_TARGET,
      minify: true,
      sourcemap: false,
      // The Lambda Node.js runtime ships AWS SDK v3; bundling it would add megabytes and cold-start time.
      external: ['@aws-sdk/*', ...LAZY_MODULES],
      metafile: false,
      logLevel: 'warning',
      plugins: plugins[name] ?? [],
    });
    // The schema libraries, each its own file beside the bundle (node_modules/<name>/index.js), required the
    // first time a schema of its format is seen: a dispatcher pays for the codecs it uses only.
    for (const mod of LAZY_MODULES) {
      await esbuild.build({
        entryPoints: [require.resolve(mod, { paths: [root] })],
        outfile: path.join(outdir, 'node_modules', mod, 'index.js'),
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: ESBUILD_TARGET,
        minify: true,
        logLevel: 'warning',
      });
    }
  }
};

/** Libraries the handlers load on first use (runtime/schemas/codecs.ts), bundled apart from them. */
const LAZY_MODULES = ['avsc', 'protobufjs', 'protobufjs/ext/descriptor', 'ajv'];

/**
 * The local event source mapping command (bin cdk-kafka-lambda), bundled with kafkajs and the AWS SDK clients it
 * uses: the package has no runtime dependencies, and the command runs on the user's Node (>= 20), not in Lambda.
 */
const bundleCli = () =>
  require('esbuild').build({
    entryPoints: [path.join(root, 'cli', 'cli.ts')],
    outfile: path.join(root, 'build', 'cli', 'cdk-kafka-lambda.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });

(async () => {
  const start = Date.now();
  await bundle();
  await bundleCli();
  process.stderr.write(`build: esbuild ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
  // API.md is generated from the jsii assembly, so the reference users read on Construct Hub, GitHub
  // and npm always matches the code.
  timed('jsii-docgen', () => run(bin('jsii-docgen'), ['--output', 'API.md']));
})().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
