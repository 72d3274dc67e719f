/**
 * A redrive (REDRIVE_EVENT_FIELD) of many failures of one partition on the range store, whose list of ranges outgrew
 * RANGES_BYTES: the failures run again once, and the records the target ran before stay done for the event source
 * mapping's redeliveries.
 */
import { REDRIVE_EVENT_FIELD } from '../../../contract/redrive-event';
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import type { SourceRecord } from '../../../runtime/dispatcher/source';
import type { MemoryDynamoDb } from '../memory-dynamodb';
import { context, kafkaEventAt, Ledger, memoryTable, quiet, RecordingRelay, TABLE } from './harness';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const redrive = (event: any) => ({ ...event, [REDRIVE_EVENT_FIELD]: { rerunFailed: true } });

function dispatcher(
  db: MemoryDynamoDb,
  ledger: Ledger,
  poison: { is: (r: SourceRecord) => boolean },
  recordsPerInvocation = 1,
): Dispatcher {
  return new Dispatcher({
    invoker: inProcessInvoker((records) => {
      for (const r of records) ledger.ran(r);
      if (records.some((r) => poison.is(r))) throw new Error('poison');
      return records.map((r) => ({ ok: String(r.offset) }));
    }),
    store: new DynamoDbRangeStore({ client: db as any, tableName: TABLE, container: 'env-1', baseDelayMs: 0 }),
    relay: new RecordingRelay(ledger, 'responses', 'errors'),
    onError: 'log',
    recordsPerInvocation,
    reportBatchItemFailures: true,
    ...quiet,
  });
}

describe('a redrive of many failures on the range store', () => {
  test('GIVEN 100 of 200 records failed (the list of ranges outgrew its size and merged them) WHEN they are redriven, twice, and the mapping then delivers 200..209 and redelivers the last 40 records THEN the failures ran once more, nothing else twice', async () => {
    const db = memoryTable();
    const ledger = new Ledger();
    const poison = { is: (r: SourceRecord) => Number(r.offset) % 2 === 1 };
    const d = dispatcher(db, ledger, poison);
    // GIVEN the odd offsets of 0..199 failed and were logged
    expect(await d.handle(kafkaEventAt('t', 0, range(0, 200)), context())).toEqual({ batchItemFailures: [] });
    // WHEN the code is fixed and the failures are redriven, twice
    poison.is = () => false;
    const odd = range(0, 200).filter((o) => o % 2 === 1);
    for (let i = 0; i < 2; i++)
      expect(await d.handle(redrive(kafkaEventAt('t', 0, odd)), context())).toEqual({ batchItemFailures: [] });
    expect(ledger.twice()).toHaveLength(100);
    // AND the mapping goes on with 200..209, then a lost commit redelivers from 40 records back
    expect(await d.handle(kafkaEventAt('t', 0, range(200, 10)), context())).toEqual({ batchItemFailures: [] });
    expect(await d.handle(kafkaEventAt('t', 0, range(170, 40)), context())).toEqual({ batchItemFailures: [] });
    // THEN the failures ran twice (broken, fixed), every other record once
    expect(ledger.twice().filter((t) => !/\|[0-9]*[13579] x2$/.test(t))).toEqual([]);
    expect(ledger.twice()).toHaveLength(100);
  });
});
