/**
 * The fault ledger with a small N (CKL_E2E_N, default 400), so CI covers every scenario; `npm run e2e`
 * runs the same scenarios with 10,000 records. An in-process scenario is held to the expectations of the scenario it
 * repeats, with the user's code's effects counted as the target's deliveries.
 */
import {
  ESM_BATCH,
  expectationsOf,
  formatLedger,
  isPoison,
  KAFKA_SCENARIOS,
  Ledger,
  PARTITIONS,
  runScenario,
  ScenarioName,
  TARGET_BATCH,
  total,
} from '../../e2e/kafka-ledger';

jest.setTimeout(600_000);

const N = Number(process.env.CKL_E2E_N ?? 400);
const POISON = Array.from({ length: N }, (_, i) => i).filter(isPoison).length;
/** Faults that can interrupt a dispatcher batch after the target answered but before its results were stored. */
const INTERRUPTING: ScenarioName[] = [
  'broker-restart',
  'dynamodb-restart',
  'scram-rotation',
  'dispatcher-killed',
  'dynamodb-outage-after-invoke',
];

describe('end-to-end fault ledger', () => {
  const ledgers: Ledger[] = [];
  afterAll(() => {
    if (ledgers.length) process.stdout.write(`${formatLedger(total(ledgers))}\n`);
  });

  test.each(KAFKA_SCENARIOS.map((s) => [s]))(
    '%s: the fault hits work in flight and every produced record is responded, errored with its bytes or sent to the on-failure destination',
    async (scenario) => {
      // GIVEN N records on a multi-partition topic, WHEN they flow through the pipeline with the scenario's fault
      const l = await runScenario(scenario, { n: N });
      const like = expectationsOf(scenario);
      ledgers.push(l);
      process.stdout.write(`${formatLedger(l)} seconds=${l.seconds} (fault_hits: ${l.faultCounted})\n`);
      // THEN the fault hit something (counted outside the dispatcher), nothing is lost, and no log holds record bytes
      if (like !== 'baseline') expect(l.faultHits).toBeGreaterThan(0);
      expect(l.produced).toBe(N);
      expect(l.lost).toBe(0);
      expect(l.canaryInLogs).toBe(0);
      // and the target sees a record again only when an invocation of it failed or was cut off (its batch is retried),
      // an interrupting fault hit a dispatcher batch whose results were not stored yet (one ESM batch per partition),
      // or a result too big to store was lost with its relay (each failed dispatcher invocation re-invokes those).
      const bound =
        l.failedTargetInvocations * TARGET_BATCH +
        (INTERRUPTING.includes(like) ? PARTITIONS * ESM_BATCH : 0) +
        (like === 'strict-target-timeout' ? l.faultHits * TARGET_BATCH : 0) +
        (like === 'large-result-relay-outage' ? l.faultHits * ESM_BATCH : 0);
      expect(l.extraInvocations).toBeLessThanOrEqual(bound);
      if (['baseline', 'target-throttling', 'decode-poison-log', 'shared-key-poison', 'routing-target-throttling'].includes(like))
        expect(l.extraInvocations).toBe(0);
      if (like === 'large-result-relay-outage') expect(l.extraInvocations).toBeGreaterThan(0); // the lost results were invoked again
      if (like === 'poison-log' || like === 'shared-key-poison') {
        // the target batches holding poison go to the error topic (with their bytes), the rest is responded
        expect(l.errored).toBeGreaterThanOrEqual(POISON);
        expect(l.responded + l.errored).toBe(N);
        expect(l.failedDest).toBe(0);
      }
      if (like === 'decode-poison-log') {
        // exactly the spoiled records are on the error topic, with their bytes
        expect(l.faultHits).toBeGreaterThanOrEqual(POISON);
        expect(l.errored).toBe(POISON);
        expect(l.responded).toBe(N - POISON);
      }
      if (like === 'poison-fail') {
        // bisecting narrows each failure to the poison record itself
        expect(l.failedDest).toBe(POISON);
        expect(l.responded).toBe(N - POISON);
      }
      if (!like.includes('poison')) expect(l.responded).toBe(N);
    },
  );
});
