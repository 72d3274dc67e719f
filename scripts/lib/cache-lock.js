'use strict';
/**
 * A lock directory beside a cache entry, so that concurrent builders of the same entry (two jest workers,
 * two test runs sharing ${CKL_CACHE_DIR}) build it once. Synchronous: the builders are child processes.
 */
const fs = require('node:fs');
const path = require('node:path');

const STALE_MS = 15 * 60 * 1000;
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Runs fn holding `${dir}.lock`; a lock older than 15 minutes is a killed builder's and is taken over. */
function withLockSync(dir, fn) {
  const lock = `${dir}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (const until = Date.now() + STALE_MS; ;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > STALE_MS) fs.rmSync(lock, { recursive: true });
      } catch {
        /* raced */
      }
      if (Date.now() > until) throw new Error(`Timed out waiting for ${lock}; remove it if no build is running.`, { cause: e });
      sleep(500);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

module.exports = { withLockSync };
