/**
 * A redrive (REDRIVE_EVENT_FIELD) as big as an event gets (10,000 records, as `cdk-kafka-lambda redrive
 * --batch-size 10000` sends) on the range store. In a redrive each run of adjacent offsets is a range of its own (what
 * lies between them is not theirs; each Kinesis record alone), and the ranges a session writes are never evicted by
 * it, so error records with gaps between them (records failing one by one: undecodable records, invocations of one
 * record) make the partition's item grow by a range a record, past DynamoDB's 400 KB.
 *
 * Past REDRIVE_RANGES_BYTES the session evicts its own oldest fragments, so the item stays far under 400 KB (the
 * command itself sends at most REDRIVE_EVENT_MAX_RECORDS records in such an event).
 */
import { REDRIVE_EVENT_FIELD } from '../../../contract/redrive-event';
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import { context, kafkaEventAt, Ledger, memoryTable, quiet, RecordingRelay, TABLE } from './harness';

jest.setTimeout(120_000);
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

test('GIVEN 10,000 error records at every other offset of a Kafka partition WHEN one redrive event carries them all, sent again while it reports failures THEN each ran once more and the redrive ends', async () => {
  const db = memoryTable();
  const ledger = new Ledger();
  let broken = true;
  const d = new Dispatcher({
    invoker: inProcessInvoker((records) => {
      for (const r of records) ledger.ran(r);
      if (broken && records.some((r) => Number(r.offset) % 2 === 1)) throw new Error('poison');
      return records.map((r) => ({ ok: String(r.offset) }));
    }),
    store: new DynamoDbRangeStore({ client: db as any, tableName: TABLE, container: 'env-1', baseDelayMs: 0 }),
    relay: new RecordingRelay(ledger, 'responses', 'errors'),
    onError: 'log',
    recordsPerInvocation: 100,
    reportBatchItemFailures: true,
    ...quiet,
  });
  // GIVEN two events of 10,000 records, logged (the odd offsets are the error records the redrive sends)
  for (const from of [0, 10_000])
    expect(await d.handle(kafkaEventAt('t', 0, range(from, 10_000)), context(600_000))).toEqual({ batchItemFailures: [] });
  // WHEN the code is fixed and the 10,000 odd offsets are redriven in one event, sent again while it reports failures
  broken = false;
  const odd = range(0, 20_000).filter((o) => o % 2 === 1);
  const event = { ...kafkaEventAt('t', 0, odd), [REDRIVE_EVENT_FIELD]: { rerunFailed: true } };
  let clean = false;
  for (let i = 0; i < 3 && !clean; i++) {
    const out = await d.handle(event, context(600_000)).catch(() => ({ batchItemFailures: ['threw'] }));
    clean = (out as { batchItemFailures: unknown[] }).batchItemFailures.length === 0;
  }
  // THEN it ended, and no record ran more than once more
  expect({ clean, ranMoreThanOnceMore: [...ledger.runs.values()].filter((n) => n > 2).length }).toEqual({
    clean: true,
    ranMoreThanOnceMore: 0,
  });
});
