/**
 * Redrives (REDRIVE_EVENT_FIELD) racing each other and the event source mapping's own deliveries of the same
 * partition, and crashing at each step, with the real stores on MemoryDynamoDb: what the target ran stays done, a
 * handled failure runs again once per redrive that reaches a fixed target, and no record is lost.
 */
import { REDRIVE_EVENT_FIELD } from '../../../contract/redrive-event';
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import type { DispatcherOptions } from '../../../runtime/dispatcher/dispatcher';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import { DynamoDbIdempotencyStore } from '../../../runtime/idempotency/store';
import type { SourceRecord } from '../../../runtime/dispatcher/source';
import { MemoryDynamoDb } from '../memory-dynamodb';
import { context, kafkaEventAt, Ledger, memoryTable, quiet, RecordingRelay, TABLE } from './harness';

type Mode = 'ranges' | 'strict keys';
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const redrive = (event: any) => ({ ...event, [REDRIVE_EVENT_FIELD]: { rerunFailed: true } });

interface World {
  db: MemoryDynamoDb;
  ledger: Ledger;
  relay: RecordingRelay;
  poison: (r: SourceRecord) => boolean;
  /** Called after the target ran a batch: may throw (the dispatcher's process dies there). */
  afterRun: (records: readonly SourceRecord[]) => void;
}

function world(): World {
  const ledger = new Ledger();
  return {
    db: memoryTable(),
    ledger,
    relay: new RecordingRelay(ledger, 'responses', 'errors'),
    poison: () => false,
    afterRun: () => undefined,
  };
}

/** A dispatcher in execution environment `container` whose code fails what w.poison names; failures logged. */
function dispatcher(
  mode: Mode,
  w: World,
  container: string,
  client: any = w.db,
  extra: Partial<DispatcherOptions> = {},
): Dispatcher {
  const invoker = inProcessInvoker(async (records) => {
    await new Promise((r) => setImmediate(r));
    for (const r of records) w.ledger.ran(r);
    w.afterRun(records);
    if (records.some((r) => w.poison(r))) throw new Error('poison');
    return records.map((r) => ({ ok: String(r.offset) }));
  });
  const store =
    mode === 'ranges'
      ? new DynamoDbRangeStore({ client, tableName: TABLE, container, baseDelayMs: 0, maxAttempts: 1 })
      : new DynamoDbIdempotencyStore({ client, tableName: TABLE, baseDelayMs: 0, maxAttempts: 1 });
  return new Dispatcher({
    invoker,
    store,
    idempotencyMode: mode === 'strict keys' ? 'strict' : 'batched',
    relay: w.relay,
    onError: 'log',
    recordsPerInvocation: 1,
    reportBatchItemFailures: true,
    targetTimeoutMs: 0,
    timeMarginMs: 5,
    ...quiet,
    ...extra,
  });
}

/** Handles the event until it answers without failures (a throw counts as a failure), at most 20 times. */
async function untilClean(d: () => Dispatcher, event: any, ms?: number): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const out = await d()
      .handle(event, context(ms))
      .catch(() => ({ batchItemFailures: ['threw'] }));
    if ((out as any).batchItemFailures.length === 0) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('never clean');
}

/** GIVEN: records 0..9 of t-0 handled; 2, 5 and 6 failed and were logged; then the code is fixed. */
async function failedThree(mode: Mode, w: World): Promise<void> {
  w.poison = (r) => [2, 5, 6].includes(Number(r.offset));
  expect(await dispatcher(mode, w, 'env-0').handle(kafkaEventAt('t', 0, range(0, 10)), context())).toEqual({
    batchItemFailures: [],
  });
  w.poison = () => false;
}

const expectRanOnceMore = (w: World, extra: string[] = []) =>
  expect(w.ledger.twice().sort()).toEqual(['t|0|2 x2', 't|0|5 x2', 't|0|6 x2', ...extra].sort());

describe.each<Mode>(['ranges', 'strict keys'])('redrives with %s', (mode) => {
  test('GIVEN three logged failures WHEN two redrives of them race in two execution environments, each retried until clean THEN each failure ran once more', async () => {
    const w = world();
    await failedThree(mode, w);
    const ev = redrive(kafkaEventAt('t', 0, [2, 5, 6]));
    await Promise.all(['env-a', 'env-b'].map((c) => untilClean(() => dispatcher(mode, w, c), ev, 200)));
    await untilClean(() => dispatcher(mode, w, 'env-c'), ev);
    expectRanOnceMore(w);
  });

  test('GIVEN three logged failures WHEN a redrive races the mapping redelivering 0..11 (10 and 11 new) THEN the failures ran once more, the rest once', async () => {
    const w = world();
    await failedThree(mode, w);
    await Promise.all([
      untilClean(() => dispatcher(mode, w, 'env-a'), redrive(kafkaEventAt('t', 0, [2, 5, 6])), 200),
      untilClean(() => dispatcher(mode, w, 'env-b'), kafkaEventAt('t', 0, range(0, 12)), 200),
    ]);
    await untilClean(() => dispatcher(mode, w, 'env-c'), redrive(kafkaEventAt('t', 0, [2, 5, 6])));
    await untilClean(() => dispatcher(mode, w, 'env-c'), kafkaEventAt('t', 0, range(0, 12)));
    expectRanOnceMore(w);
    expect(w.ledger.runs.get('t|0|11')).toBe(1);
  });

  test.each([
    ["at the relay of record 5's response (after its target ran)", 'relay'],
    ['at the write of the completion of record 5', 'complete'],
    ['at the release of the lease', 'release'],
  ])(
    'GIVEN three logged failures WHEN the redrive process dies %s and the redrive is sent again later THEN 5 ran at most once more than the others, and a further redrive runs nothing',
    async (_label, where) => {
      const w = world();
      await failedThree(mode, w);
      let dead = false;
      const die = () => {
        dead = true;
        throw Object.assign(new Error('the process died (injected)'), { name: 'Crash' });
      };
      if (where === 'relay') w.relay.failOn = (_t, ids) => !dead && ids.includes('t|0|5') && (die(), true);
      const crashing = {
        send: async (command: any) => {
          const i = command.input;
          const ranges = /"f":5,"l":5,"o":"respon/.test(String(i.ExpressionAttributeValues?.[':ranges']?.S));
          const text = JSON.stringify(i);
          const key5 = text.includes('"S":"t-0-5"') && text.includes('"COMPLETED"');
          if (!dead && where === 'complete' && (ranges || key5)) die();
          if (!dead && where === 'release' && String(i.UpdateExpression ?? '').includes('REMOVE #lease')) die();
          return w.db.send(command);
        },
      };
      const ev = redrive(kafkaEventAt('t', 0, [2, 5, 6]));
      // The dying invocation ends with the throw; its holds last until its deadline (short here)
      await dispatcher(mode, w, 'env-a', crashing)
        .handle(ev, context(50))
        .catch(() => undefined);
      // (strict keys hold no lease to release)
      expect(dead || (mode === 'strict keys' && where === 'release')).toBe(true);
      await new Promise((r) => setTimeout(r, 80));
      await untilClean(() => dispatcher(mode, w, 'env-b'), ev);
      await untilClean(() => dispatcher(mode, w, 'env-c'), ev);
      await untilClean(() => dispatcher(mode, w, 'env-c'), kafkaEventAt('t', 0, range(0, 10)));
      const twice = w.ledger.twice();
      for (const t of twice) expect(['t|0|2 x2', 't|0|5 x2', 't|0|5 x3', 't|0|6 x2']).toContain(t);
      expect(w.ledger.runs.get('t|0|2')).toBe(2);
      expect(w.ledger.runs.get('t|0|6')).toBe(2);
      expect([...w.ledger.runs.keys()]).toHaveLength(10);
    },
  );

  test('GIVEN three logged failures WHEN a redrive fails 5 again and the error topic write fails, then the redrive is sent again to the code still broken, and once more fixed THEN 5 is on the error topic once more, and runs once with the code fixed', async () => {
    const w = world();
    await failedThree(mode, w);
    w.poison = (r) => r.offset === 5;
    let failErrors = 1;
    const sendErrors = w.relay.sendErrors.bind(w.relay);
    w.relay.sendErrors = async (items) => {
      if (failErrors-- > 0) throw new Error('broker unreachable (injected)');
      return sendErrors(items);
    };
    const ev = redrive(kafkaEventAt('t', 0, [2, 5, 6]));
    const first = await dispatcher(mode, w, 'env-a').handle(ev, context());
    expect(first.batchItemFailures).not.toEqual([]);
    await untilClean(() => dispatcher(mode, w, 'env-a'), ev);
    expect(w.ledger.errors.get('t|0|5')).toBe(2);
    w.poison = () => false;
    await untilClean(() => dispatcher(mode, w, 'env-a'), ev);
    await untilClean(() => dispatcher(mode, w, 'env-a'), ev);
    expect(w.ledger.twice().sort()).toEqual(['t|0|2 x2', 't|0|5 x4', 't|0|6 x2']);
  });
});
