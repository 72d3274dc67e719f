'use strict';
/**
 * Python virtual environments for the tools the project runs from PyPI (cfn-lint, the Python example
 * app with the built wheel), cached outside the repo so reruns and fresh clones skip pip.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { withLockSync } = require('./cache-lock');

function cacheDir() {
  return process.env.CKL_CACHE_DIR || path.join(os.homedir(), '.cache', 'cdk-kafka-lambda');
}

/**
 * A venv with `pip install <pipArgs>` done, in ${CKL_CACHE_DIR}/venvs/<name>-<hash>. The hash covers
 * the pip arguments and the content of every argument that is a file (a wheel, a requirements file),
 * so a changed input yields a new venv and an unchanged one costs nothing. Concurrent callers (two
 * jest workers) serialize on a lock directory. Returns the venv's python executable.
 */
function pythonVenv(name, pipArgs) {
  const hash = crypto.createHash('sha256').update(JSON.stringify(pipArgs.map((a) => path.basename(a))));
  for (const arg of pipArgs) if (fs.existsSync(arg) && fs.statSync(arg).isFile()) hash.update(fs.readFileSync(arg));
  const dir = path.join(cacheDir(), 'venvs', `${name}-${hash.digest('hex').slice(0, 16)}`);
  const python = path.join(dir, 'bin', 'python');
  const marker = path.join(dir, '.ckl-ready');
  if (fs.existsSync(marker)) return python;

  return withLockSync(dir, () => {
    if (fs.existsSync(marker)) return python;
    fs.rmSync(dir, { recursive: true, force: true });
    const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 15 * 60 * 1000 });
    run('python3', ['-m', 'venv', dir]);
    run(python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', ...pipArgs]);
    fs.writeFileSync(marker, new Date().toISOString());
    return python;
  });
}

/**
 * Installs a wheel built here into the venv, unless this very file is installed already: a rebuilt wheel
 * keeps its version number, so pip alone would keep the old one. Costs seconds, where a new venv per
 * wheel would cost a download of its dependencies and their disk space.
 */
function installWheel(python, wheel) {
  const sha = crypto.createHash('sha256').update(fs.readFileSync(wheel)).digest('hex');
  const marker = path.join(path.dirname(path.dirname(python)), `.ckl-wheel-${path.basename(wheel)}`);
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === sha) return;
  const pip = (...args) =>
    execFileSync(python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 15 * 60 * 1000,
    });
  pip('--force-reinstall', '--no-deps', wheel);
  pip(wheel); // its dependencies, should they have changed
  fs.writeFileSync(marker, sha);
}

module.exports = { cacheDir, installWheel, pythonVenv };
