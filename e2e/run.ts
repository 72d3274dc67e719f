/**
 * npm run e2e [-- --n 10000] [-- scenario …]: starts the test environment, runs each scenario and prints
 * one ledger line per scenario and a last line for all of them. Exits 1 when a record was lost.
 */
import { parseArgs } from 'node:util';
import * as te from '../testenv';
import { ALL_SCENARIOS, formatLedger, Ledger, runScenario, ScenarioName, SCENARIOS, total } from './kafka-ledger';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { n: { type: 'string', default: '10000' }, verbose: { type: 'boolean' } },
    allowPositionals: true,
  });
  const n = Number(values.n);
  const unknown = positionals.filter((p) => !(ALL_SCENARIOS as readonly string[]).includes(p));
  if (!Number.isInteger(n) || n < 1 || unknown.length)
    throw new Error(`usage: npm run e2e -- [--n N] [${ALL_SCENARIOS.join('|')} …]; got n=${values.n} ${unknown.join(' ')}`);
  const scenarios = (positionals.length ? positionals : SCENARIOS) as ScenarioName[];
  const own = process.env.CKL_TESTENV ? undefined : await te.start({ ownerPid: process.pid });
  if (own) process.env.CKL_TESTENV = own.file;
  const ledgers: Ledger[] = [];
  try {
    for (const s of scenarios) {
      const l = await runScenario(s, { n, log: values.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined });
      ledgers.push(l);
      process.stdout.write(`${formatLedger(l)} seconds=${l.seconds}\n`);
    }
  } finally {
    if (own) await te.stop(own);
  }
  process.stdout.write(`${formatLedger(total(ledgers))}\n`);
  if (ledgers.some((l) => l.lost > 0)) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
