'use strict';
/**
 * The oldest aws-cdk-lib the package supports (the floor: the minimum of its peer range), installed apart
 * from the development one in ${CKL_CACHE_DIR}/aws-cdk-lib-floor/<version>/node_modules, so that the
 * floor test project (jest.config.js) and the Go module build can run against exactly that version.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { withLockSync } = require('./cache-lock');
const { cacheDir } = require('./python-venv');

const pkg = require('../../package.json');

/** The minimum version of a peer range written as ^X.Y.Z, the only form the package uses. */
function peerMinimum(name) {
  const range = pkg.peerDependencies[name];
  const m = /^\^(\d+\.\d+\.\d+)$/.exec(range ?? '');
  if (!m) throw new Error(`peerDependencies["${name}"] is "${range}"; write it as ^X.Y.Z (its minimum is the tested floor).`);
  return m[1];
}

const FLOOR = { 'aws-cdk-lib': peerMinimum('aws-cdk-lib'), constructs: peerMinimum('constructs') };

/** The node_modules folder holding the floor's aws-cdk-lib and constructs (it may not exist yet). */
function floorModulesDir() {
  return path.join(cacheDir(), 'aws-cdk-lib-floor', `${FLOOR['aws-cdk-lib']}-constructs${FLOOR.constructs}`, 'node_modules');
}

/** Installs the floor with npm once (about 10 s, 170 MB); later calls read a marker. Returns floorModulesDir(). */
function ensureFloor() {
  const modules = floorModulesDir();
  const dir = path.dirname(modules);
  const marker = path.join(dir, '.ckl-ready');
  if (fs.existsSync(marker)) return modules;
  return withLockSync(dir, () => {
    if (fs.existsSync(marker)) return modules;
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'aws-cdk-lib-floor', private: true }));
    execFileSync(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--no-package-lock',
        '--ignore-scripts',
        ...Object.entries(FLOOR).map(([name, version]) => `${name}@${version}`),
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], timeout: 10 * 60 * 1000 },
    );
    fs.writeFileSync(marker, new Date().toISOString());
    return modules;
  });
}

module.exports = { FLOOR, ensureFloor, floorModulesDir };
