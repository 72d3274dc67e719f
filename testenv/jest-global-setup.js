'use strict';
/**
 * jest globalSetup: start the stand-ins once per jest run and export CKL_TESTENV so every worker
 * (they inherit the environment) can loadEnv(). If CKL_TESTENV already names a live env.json
 * (started by `cli.js start` in a script), it is reused and left running.
 */
const fs = require('node:fs');
const te = require('./index');

module.exports = async function globalSetup() {
  const existing = process.env.CKL_TESTENV;
  if (existing && fs.existsSync(existing)) {
    process.stderr.write(`\n[testenv] reusing ${existing}\n`);
    return;
  }
  process.stderr.write('\n');
  // ownerPid: a watchdog stops everything if this jest process dies without running teardown.
  const env = await te.start({ ownerPid: process.pid });
  process.env.CKL_TESTENV = env.file;
  process.env.CKL_TESTENV_OWNED = env.file;
};
