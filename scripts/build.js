#!/usr/bin/env node
'use strict';
/**
 * npm run build: compiles the constructs (lib/), the runtime (cdk-kafka-lambda/runtime) and their contract with
 * jsii into build/, bundles each runtime/handlers/<name>.ts with esbuild into assets/<name>/index.js for the
 * Node.js version of the functions the constructs create, the runtime library into the layer assets/runtime-layer/, bundles the local event source mapping command into
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

/** Bundles `entry` for the functions' Node.js into `outfile`, with the lazily loaded libraries in `modulesDir`. */
const bundleForLambda = async (entry, outfile, modulesDir, plugins, target) => {
  const esbuild = require('esbuild');
  const common = { bundle: true, platform: 'node', format: 'cjs', target, minify: true, logLevel: 'warning' };
  await esbuild.build({
    ...common,
    entryPoints: [entry],
    outfile,
    sourcemap: false,
    external: ['@aws-sdk/*', ...LAZY_MODULES],
    plugins,
  });
  // Only the libraries the bundle loads: a handler that loads none ships none.
  const code = fs.readFileSync(outfile, 'utf8');
  for (const mod of LAZY_MODULES.filter((m) => code.includes(`"${m}"`))) {
    await esbuild.build({
      ...common,
      entryPoints: [require.resolve(mod, { paths: [root] })],
      outfile: path.join(modulesDir, mod, 'index.js'),
    });
  }
};

const bundle = async () => {
  const { ESBUILD_TARGET } = require(path.join(root, 'build', 'lib', 'private', 'handler-runtime.js'));
  const handlersDir = path.join(root, 'runtime', 'handlers');
  const plugins = require(path.join(root, 'scripts', 'handler-bundle-plugins.js'));
  for (const file of fs.readdirSync(handlersDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
    const name = path.basename(file, '.ts');
    const outdir = path.join(root, 'assets', name);
    fs.rmSync(outdir, { recursive: true, force: true });
    await bundleForLambda(
      path.join(handlersDir, file),
      path.join(outdir, 'index.js'),
      path.join(outdir, 'node_modules'),
      plugins[name] ?? [],
      ESBUILD_TARGET,
    );
  }
  // The runtime library as a Lambda layer (InProcessDispatcher adds it): `require('cdk-kafka-lambda/runtime')` resolves
  // in /opt/nodejs/node_modules, with its libraries, in a function that does not bundle it, on every
  // Node.js runtime Lambda supports (20 and later).
  const modules = path.join(root, 'assets', 'runtime-layer', 'nodejs', 'node_modules');
  fs.rmSync(path.dirname(path.dirname(modules)), { recursive: true, force: true });
  const pkg = path.join(modules, 'cdk-kafka-lambda');
  await bundleForLambda(
    path.join(root, 'runtime', 'index.ts'),
    path.join(pkg, 'runtime', 'index.js'),
    modules,
    plugins.dispatcher,
    // The layer serves every Node.js runtime Lambda supports.
    'node20',
  );
  const { version } = require(path.join(root, 'package.json'));
  fs.writeFileSync(
    path.join(pkg, 'package.json'),
    `${JSON.stringify({ name: 'cdk-kafka-lambda', version, exports: { './runtime': './runtime/index.js' } }, null, 2)}\n`,
  );
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
