/**
 * The fault ledger with a small N (CKL_E2E_N, default 400), so CI covers every scenario; `npm run e2e`
 * runs the same scenarios with 10,000 records.
 */
import { ESM_BATCH, formatLedger, Ledger, PARTITIONS, POISON_EVERY, runScenario, SCENARIOS, ScenarioName, TARGET_BATCH, total } from '../../e2e/ledger';

jest.setTimeout(300_000);

const N = Number(process.env.CKL_E2E_N ?? 400);
const POISON = Array.from({ length: N }, (_, i) => i).filter((i) => i === 1 || i % POISON_EVERY === 0).length;
/** Faults that can interrupt a dispatcher batch after the target answered but before its results were stored. */
const INTERRUPTING: ScenarioName[] = ['broker-restart', 'dynamodb-restart', 'scram-rotation', 'dispatcher-killed'];

describe('end-to-end fault ledger', () => {
  const ledgers: Ledger[] = [];
  afterAll(() => { if (ledgers.length) process.stdout.write(`${formatLedger(total(ledgers))}\n`); });

  test.each(SCENARIOS.map((s) => [s]))('%s: every produced record is responded, errored or sent to the on-failure destination', async (scenario) => {
    // GIVEN N records on a multi-partition topic, WHEN they flow through the pipeline with the scenario's fault
    const l = await runScenario(scenario, { n: N });
    ledgers.push(l);
    process.stdout.write(`${formatLedger(l)} seconds=${l.seconds}\n`);
    // THEN nothing is lost
    expect(l.produced).toBe(N);
    expect(l.lost).toBe(0);
    // and the target sees a record again only when an invocation of it failed (its batch is retried) or an
    // interrupting fault hit a dispatcher batch whose results were not stored yet (one ESM batch per partition).
    const bound = l.failedTargetInvocations * TARGET_BATCH + (INTERRUPTING.includes(scenario) ? PARTITIONS * ESM_BATCH : 0);
    expect(l.extraInvocations).toBeLessThanOrEqual(bound);
    if (scenario === 'baseline' || scenario === 'target-throttling') expect(l.extraInvocations).toBe(0); // 429s never reach the function
    if (scenario === 'poison-log') {
      // the target batches holding poison go to the error topic, the rest is responded
      expect(l.errored).toBeGreaterThanOrEqual(POISON);
      expect(l.responded + l.errored).toBe(N);
      expect(l.failedDest).toBe(0);
    }
    if (scenario === 'poison-fail') {
      // bisecting narrows each failure to the poison record itself
      expect(l.failedDest).toBe(POISON);
      expect(l.responded).toBe(N - POISON);
    }
    if (!scenario.startsWith('poison')) expect(l.responded).toBe(N);
  });
});
