#!/usr/bin/env node
'use strict';
/**
 * npm run package: the jsii packages of the built library, written by jsii-pacmak to
 *   dist/js      the npm tarball
 *   dist/python  the wheel and sdist (PyPI)
 *   dist/java    the jar, sources and javadoc in a Maven repository layout
 *   dist/go      the Go module (its sources, the way Go modules are published)
 * Usage: node scripts/package.js [--targets js,python,java,go]   (run `npm run build` first)
 *
 * .NET is not a target: jsii-pacmak needs the .NET SDK, which neither Debian's apt nor the registries
 * this project builds from provide.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
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
  const res = spawnSync(path.join(root, 'node_modules', '.bin', 'jsii-pacmak'), ['--targets', ...targets, '--outdir', outdir, ...extraArgs],
    { cwd: root, env, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  process.stderr.write(res.stderr ?? '');
  if (res.status !== 0) throw Object.assign(new Error(`jsii-pacmak --targets ${targets.join(',')} failed (exit ${res.status})`), { stderr: res.stderr });
}

/**
 * The CDK library each target builds against, where a registry this machine reaches may lack it: Maven
 * Central here has aws-cdk-lib only up to 2.263.0, and the Go module proxy refuses github.com/aws/aws-cdk-go.
 */
const MISSING_CDK = {
  java: /No versions available for software\.amazon\.awscdk:aws-cdk-lib/,
  go: /aws-cdk-go[\s\S]*(403 Forbidden|not available)/,
};

/**
 * One target, built and packaged. When its build fails only because the registry lacks the CDK library,
 * the target's sources are generated without the build (a Go module is published as sources anyway), Go
 * sources are syntax-checked with gofmt, and the output says so; any other failure fails the command.
 */
function pacmakTarget(target, outdir) {
  try {
    pacmak([target], outdir);
  } catch (e) {
    if (!MISSING_CDK[target]?.test(e.stderr ?? '')) throw e;
    process.stderr.write(`package: WARNING ${target}: the registry does not serve the aws-cdk-lib this package needs; `
      + `dist/${target} holds the generated sources, not built.\n`);
    fs.rmSync(path.join(outdir, target), { recursive: true, force: true });
    pacmak([target], outdir, ['--code-only']);
    if (target === 'go') execFileSync('gofmt', ['-e', path.join(outdir, 'go')], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

function filesUnder(dir) {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}

/**
 * The Python wheel of the current build, built with jsii-pacmak only when none exists for exactly
 * these package contents: the key is the checksum `npm pack` computes over the files the wheel
 * embeds (npm fixes the tarball's timestamps, so equal contents give an equal checksum) and the
 * jsii-pacmak version. Cached in ${CKL_CACHE_DIR}/wheels/<key>/. Returns the wheel's path.
 */
function pythonWheel() {
  const pack = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))[0];
  const pacmakVersion = require('jsii-pacmak/package.json').version;
  const dir = path.join(cacheDir(), 'wheels', `${pack.id}-${pack.shasum}-pacmak${pacmakVersion}`);
  const find = () => fs.existsSync(dir) && fs.readdirSync(dir).find((f) => f.endsWith('.whl'));
  if (!find()) {
    const tmp = `${dir}.${process.pid}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    pacmak(['python'], tmp);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of filesUnder(path.join(tmp, 'python')).filter((f) => f.endsWith('.whl'))) {
      fs.copyFileSync(f, path.join(dir, path.basename(f)));
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const wheel = find();
  if (!wheel) throw new Error(`jsii-pacmak wrote no wheel into ${dir}`);
  return path.join(dir, wheel);
}

function main() {
  const i = process.argv.indexOf('--targets');
  const targets = i > 0 ? process.argv[i + 1].split(',') : TARGETS;
  const unknown = targets.filter((t) => !TARGETS.includes(t));
  if (unknown.length) throw new Error(`--targets ${unknown.join(',')}: not a target; choose from ${TARGETS.join(',')}.`);
  const outdir = path.join(root, 'dist');
  for (const t of targets) fs.rmSync(path.join(outdir, t), { recursive: true, force: true });
  const start = Date.now();
  // js and python first, in one run: their registries have everything they need.
  const direct = targets.filter((t) => !MISSING_CDK[t]);
  if (direct.length) pacmak(direct, outdir);
  for (const t of targets.filter((t) => MISSING_CDK[t])) pacmakTarget(t, outdir);
  process.stderr.write(`package: jsii-pacmak ${targets.join(',')} ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
  for (const t of targets) {
    for (const f of filesUnder(path.join(outdir, t)).filter((f) => /\.(tgz|whl|tar\.gz|jar)$/.test(f) || f.endsWith('go.mod'))) {
      process.stderr.write(`package: ${path.relative(root, f)} ${(fs.statSync(f).size / 1024).toFixed(0)} KiB\n`);
    }
  }
}

if (require.main === module) main();

module.exports = { pythonWheel };
