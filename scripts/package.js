#!/usr/bin/env node
'use strict';
/**
 * npm run package: the jsii packages of the built library, written by jsii-pacmak to
 *   dist/js      the npm tarball
 *   dist/python  the wheel and sdist (PyPI)
 *   dist/java    the jar, sources and javadoc in a Maven repository layout, built with Maven
 *   dist/go      the Go module, compiled with go build against aws-cdk-go at the package's aws-cdk-lib floor
 * Usage: node scripts/package.js [--targets js,python,java,go]   (run `npm run build` first)
 *
 * The Python, Java and Go packages are built once per package contents and cached in
 * ${CKL_CACHE_DIR}/packages/<key>/<target> (the tests use the same builds); dist/<target> is a copy.
 * Maven's repository is ${CKL_CACHE_DIR}/maven-repository; Go uses its own module and build caches.
 *
 * .NET is not a target: jsii-pacmak needs the .NET SDK, which neither Debian's apt nor the registries
 * this project builds from provide.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { withLockSync } = require('./lib/cache-lock');
const { FLOOR } = require('./lib/cdk-floor');
const { cacheDir } = require('./lib/python-venv');

const root = path.join(__dirname, '..');
const TARGETS = ['js', 'python', 'java', 'go'];
// jsii-pacmak embeds the npm tarball of the built package; without ignore-scripts its `npm pack` would
// run "prepare" and rebuild everything first.
const env = {
  ...process.env,
  JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION: '1',
  JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0],
  npm_config_ignore_scripts: 'true',
};

function pacmak(targets, outdir, extraArgs = []) {
  if (!fs.existsSync(path.join(root, '.jsii'))) throw new Error('.jsii is missing: run "npm run build" before packaging.');
  const res = spawnSync(
    path.join(root, 'node_modules', '.bin', 'jsii-pacmak'),
    ['--targets', ...targets, '--outdir', outdir, ...extraArgs],
    { cwd: root, env, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' },
  );
  process.stderr.write(res.stderr ?? '');
  if (res.status !== 0) throw new Error(`jsii-pacmak --targets ${targets.join(',')} failed (exit ${res.status})`);
}

/** The Maven local repository of the Java build and the Java example app. */
function mavenRepository() {
  return path.join(cacheDir(), 'maven-repository');
}

/** The environment of go commands: a module cache that can be deleted, and the installed Go, never a download. */
function goEnv() {
  return { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: [process.env.GOFLAGS, '-modcacherw'].filter(Boolean).join(' ') };
}

/**
 * jsii-pacmak's go.mod requires the aws-cdk-go of the installed (development) aws-cdk-lib; the module
 * requires the floor instead, as the Python and Java packages do through their ranges. The indirect
 * requirements are those of the development version, so they are dropped and `go mod tidy` derives them
 * (and go.sum) from the floor; `go build` then compiles the module against it.
 */
function buildGoModule(moduleDir) {
  const goMod = path.join(moduleDir, 'go.mod');
  const text = fs.readFileSync(goMod, 'utf8');
  const cdk = /^(\s*github\.com\/aws\/aws-cdk-go\/awscdk\/v2) v\S+$/m;
  if (!cdk.test(text)) throw new Error(`${goMod} does not require github.com/aws/aws-cdk-go/awscdk/v2`);
  fs.writeFileSync(
    goMod,
    text
      .replace(cdk, `$1 v${FLOOR['aws-cdk-lib']}`)
      .split('\n')
      .filter((l) => !l.endsWith('// indirect'))
      .join('\n'),
  );
  const go = (...args) =>
    execFileSync('go', args, { cwd: moduleDir, env: goEnv(), stdio: ['ignore', 'ignore', 'inherit'], timeout: 15 * 60 * 1000 });
  go('mod', 'tidy');
  go('build', './...');
}

/** How each cached target is built into outdir/<target>. */
const BUILDERS = {
  python: (outdir) => pacmak(['python'], outdir),
  java: (outdir) => pacmak(['java'], outdir, ['--maven-local-repository', mavenRepository()]),
  go: (outdir) => {
    pacmak(['go'], outdir, ['--code-only']);
    buildGoModule(path.dirname(filesUnder(path.join(outdir, 'go')).find((f) => path.basename(f) === 'go.mod')));
  },
};

function filesUnder(dir) {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}

/**
 * What a package is built from: the checksum `npm pack` computes over the files the packages embed (npm
 * fixes the tarball's timestamps, so equal contents give an equal checksum; package.json with the peer
 * ranges is one of them), the jsii-pacmak version and this script.
 */
function packageKey() {
  const pack = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  )[0];
  const script = crypto.createHash('sha256').update(fs.readFileSync(__filename)).digest('hex').slice(0, 12);
  return `${pack.id}-${pack.shasum}-pacmak${require('jsii-pacmak/package.json').version}-${script}`;
}

/**
 * The directory of one target's package for the current build (what dist/<target> holds), built only when
 * none exists for exactly these contents. Returns { dir, built } (built: false when it came from the cache).
 */
function packaged(target) {
  const dir = path.join(cacheDir(), 'packages', packageKey(), target);
  const ready = path.join(dir, '.ckl-ready');
  if (fs.existsSync(ready)) return { dir, built: false };
  return withLockSync(dir, () => {
    if (fs.existsSync(ready)) return { dir, built: false };
    const tmp = `${dir}.${process.pid}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    BUILDERS[target](tmp);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, target), dir);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.writeFileSync(ready, new Date().toISOString());
    return { dir, built: true };
  });
}

/** The Python wheel of the current build. */
function pythonWheel() {
  const { dir } = packaged('python');
  const wheel = filesUnder(dir).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new Error(`jsii-pacmak wrote no wheel into ${dir}`);
  return wheel;
}

/** The Maven repository (file layout) holding the jar of the current build. */
function javaRepository() {
  return packaged('java').dir;
}

/** The directory of the compiled Go module of the current build (its go.mod). */
function goModule() {
  const { dir } = packaged('go');
  return path.dirname(filesUnder(dir).find((f) => path.basename(f) === 'go.mod'));
}

const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;

function main() {
  const i = process.argv.indexOf('--targets');
  const targets = i > 0 ? process.argv[i + 1].split(',') : TARGETS;
  const unknown = targets.filter((t) => !TARGETS.includes(t));
  if (unknown.length) throw new Error(`--targets ${unknown.join(',')}: not a target; choose from ${TARGETS.join(',')}.`);
  const outdir = path.join(root, 'dist');
  for (const target of targets) {
    const start = Date.now();
    fs.rmSync(path.join(outdir, target), { recursive: true, force: true });
    let how = 'built';
    if (target === 'js') {
      pacmak(['js'], outdir);
    } else {
      const { dir, built } = packaged(target);
      if (!built) how = `copied from ${dir}`;
      fs.cpSync(dir, path.join(outdir, target), { recursive: true, filter: (f) => path.basename(f) !== '.ckl-ready' });
    }
    process.stderr.write(`package: ${target} ${how} in ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
    const files = filesUnder(path.join(outdir, target));
    for (const f of files.filter((f) => /\.(tgz|whl|tar\.gz|jar)$/.test(f) && !f.includes(`${path.sep}resources${path.sep}`))) {
      process.stderr.write(`package:   ${path.relative(root, f)} ${kib(fs.statSync(f).size)}\n`);
    }
    if (target === 'go') {
      const goMod = files.find((f) => path.basename(f) === 'go.mod');
      const size = files.filter((f) => f.startsWith(path.dirname(goMod))).reduce((n, f) => n + fs.statSync(f).size, 0);
      process.stderr.write(`package:   ${path.relative(root, path.dirname(goMod))}/ (compiled) ${kib(size)}\n`);
    }
  }
}

if (require.main === module) main();

module.exports = { goEnv, goModule, javaRepository, mavenRepository, pythonWheel };
