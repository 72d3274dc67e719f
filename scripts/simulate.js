#!/usr/bin/env node
'use strict';
/**
 * The simulation test (test/sim/simulation.test.ts) with many more schedules than `npm test` runs:
 *   node scripts/simulate.js [runs]        (default 20000; SIM_SEED fixes the seed, SIM_SHRINK=0 skips shrinking)
 * A failure prints fast-check's seed and path; replay it with
 *   SIM_SEED=<seed> SIM_PATH=<path> npx jest test/sim/simulation.test.ts --selectProjects unit
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const runs = process.argv[2] ?? process.env.SIM_RUNS ?? '20000';
// npm test always runs one seed; this explores a new one each time unless SIM_SEED names it.
const seed = process.env.SIM_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
process.stdout.write(`simulation: ${runs} schedules, SIM_SEED=${seed}\n`);
const result = spawnSync(
  process.execPath,
  [require.resolve('jest/bin/jest'), 'test/sim/simulation.test.ts', '--selectProjects', 'unit', '-t', 'seeded schedules'],
  { cwd: path.join(__dirname, '..'), stdio: 'inherit', env: { ...process.env, SIM_RUNS: String(runs), SIM_SEED: seed } },
);
process.exit(result.status ?? 1);
