#!/usr/bin/env node
'use strict';
/**
 * Safety net: `node watchdog.js <runDir> <ownerPid>` polls the owner (the jest process) and stops
 * the run's services when it disappears without running globalTeardown (Ctrl-C, OOM kill, CI abort).
 */
const [runDir, ownerPid] = process.argv.slice(2);
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const timer = setInterval(async () => {
  if (alive(Number(ownerPid))) return;
  clearInterval(timer);
  await require('./index').stop(runDir, { exceptWatchdog: true });
  process.exit(0);
}, 2000);
process.on('SIGTERM', () => process.exit(0));
