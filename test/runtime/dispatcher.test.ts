/**
 * The runtime Dispatcher alone, with in-memory fakes of its three ports (invoker, idempotency store, relay):
 * ordering, concurrency, partial batch responses, the error behaviours, deadlines and duplicates. The same
 * behaviours through the real services are in the *.integ tests.
 */
import {
  CompletedRecord,
  CompletionEntry,
  ErrorItem,
  InvocationBatch,
  JsonLogger,
  EmfMetrics,
  ResponseItem,
  SourceRecord,
  TargetInvocationError,
  nextPosition,
  AcquireResult,
  IdempotencyEntry,
  IdempotencySession,
} from '../../runtime';
import { Dispatcher, DispatcherOptions, IdempotencyStorePort, InvokerPort, RelayPort } from '../../runtime/dispatcher/dispatcher';
import { kafkaEvent, RecordSpec } from './support';

const at = (r: { topic: string; partition: number | string; offset: number | string }) => `${r.topic}-${r.partition}@${r.offset}`;

/** Answers each record with { echo: offset }, or fails a batch holding a record whose value has `fail`. */
class FakeInvoker implements InvokerPort {
  readonly functionName = 'target';
  readonly payloadFormat = 'confluent' as const;
  readonly calls: string[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    readonly invocationType: 'RequestResponse' | 'Event' = 'RequestResponse',
    private readonly delayMs = 0,
  ) {}

  async invoke(batch: InvocationBatch): Promise<readonly unknown[]> {
    this.calls.push(batch.records.map(at));
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      const bad = batch.records.find((r) => (valueOf(r) as { fail?: boolean } | null)?.fail);
      if (bad) {
        throw new TargetInvocationError(
          'the target failed',
          batch.topic,
          batch.partition,
          batch.records[0].offset,
          nextPosition(batch.records[batch.records.length - 1].offset),
          { statusCode: 200, functionError: 'Unhandled', payload: '{"errorMessage":"x"}' },
        );
      }
      return this.invocationType === 'Event'
        ? batch.records.map(() => undefined)
        : batch.records.map((r) => ({ echo: r.offset }));
    } finally {
      this.inFlight--;
    }
  }
}

function valueOf(r: SourceRecord): unknown {
  const v = (r as { value?: Buffer | null }).value;
  return v ? JSON.parse(Buffer.from(v).toString('utf8')) : null;
}

/** Done records in a Map, with strict-mode in-progress keys. */
class FakeStore implements IdempotencyStorePort {
  readonly done = new Map<string, CompletedRecord>();
  readonly inProgress = new Map<string, number>();
  async open(entries: readonly IdempotencyEntry[]): Promise<IdempotencySession> {
    const complete = (es: readonly CompletionEntry[]) => this.complete(es);
    return {
      done: new Map(entries.filter((e) => this.done.has(e.key)).map((e) => [e.key, this.done.get(e.key)!])),
      inProgress: new Set(),
      fits: (r) => this.fits(r),
      complete,
      relayed: complete,
      close: async () => undefined,
    };
  }
  fits(result: unknown): boolean {
    return JSON.stringify(result ?? null).length <= 1000;
  }
  async complete(entries: readonly CompletionEntry[]): Promise<void> {
    for (const e of entries) {
      const kept = this.fits(e.result);
      this.done.set(e.key, {
        outcome: e.outcome,
        result: kept ? e.result : undefined,
        resultOmitted: !kept,
        relayPending: e.relayPending ?? false,
        ...e.record,
      });
      this.inProgress.delete(e.key);
    }
  }
  async acquire(key: string, _record: SourceRecord, until: number): Promise<AcquireResult> {
    const completed = this.done.get(key);
    if (completed && !completed.relayPending) return { state: 'completed', completed };
    if ((this.inProgress.get(key) ?? 0) > Date.now()) return { state: 'in-progress' };
    this.inProgress.set(key, until);
    return { state: 'acquired', lostResult: completed?.relayPending ?? false };
  }
  async release(key: string): Promise<void> {
    this.inProgress.delete(key);
  }
}

class FakeRelay implements RelayPort {
  readonly responses: string[] = [];
  readonly errors: ErrorItem[] = [];
  constructor(
    readonly responseTopic?: string,
    readonly errorTopic?: string,
  ) {}
  async sendResponses(items: readonly ResponseItem[]): Promise<void> {
    this.responses.push(...items.map((i) => `${at(i.record)}=${JSON.stringify(i.result)}`));
  }
  async sendErrors(items: readonly ErrorItem[]): Promise<void> {
    this.errors.push(...items);
  }
}

const quiet = { logger: new JsonLogger({ write: () => undefined }), metrics: new EmfMetrics({ write: () => undefined }) };
const context = (ms = 60_000) => ({ getRemainingTimeInMillis: () => ms });
const specs = (topic: string, partition: number, from: number, n: number, fail?: number): RecordSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    topic,
    partition,
    offset: from + i,
    value: from + i === fail ? { fail: true } : { n: from + i },
  }));

function setup(o: Partial<DispatcherOptions> = {}, invoker = new FakeInvoker()) {
  const store = new FakeStore();
  const relay = new FakeRelay('results', 'errors');
  const dispatcher = new Dispatcher({ invoker, store, relay, timeMarginMs: 1_000, ...quiet, ...o });
  return { invoker, store, relay, dispatcher };
}

describe('Dispatcher with fakes', () => {
  test('invokes each partition in offset order, in batches of batchSize, and relays every result in order', async () => {
    // GIVEN 5 records of one partition and batches of 2
    const { invoker, relay, dispatcher } = setup({ batchSize: 2 });
    // WHEN dispatched
    const out = await dispatcher.handle(kafkaEvent(specs('t', 0, 10, 5)), context());
    // THEN three invocations in order, five results relayed in order, nothing to retry
    expect(invoker.calls).toEqual([['t-0@10', 't-0@11'], ['t-0@12', 't-0@13'], ['t-0@14']]);
    expect(relay.responses).toEqual([10, 11, 12, 13, 14].map((o) => `t-0@${o}={"echo":${o}}`));
    expect(out).toEqual({ batchItemFailures: [] });
  });

  test('runs at most `concurrency` partitions at once, and more than one', async () => {
    // GIVEN 4 partitions and a target that takes 30 ms
    const { invoker, dispatcher } = setup({ concurrency: 2, batchSize: 1 }, new FakeInvoker('RequestResponse', 30));
    // WHEN dispatched
    await dispatcher.handle(kafkaEvent([0, 1, 2, 3].flatMap((p) => specs('t', p, 0, 2))), context());
    // THEN every record was invoked, never more than two partitions at a time
    expect(invoker.calls.flat()).toHaveLength(8);
    expect(invoker.maxInFlight).toBe(2);
  });

  test('fail: the batch fails, the failed partition stops at the failure, and a retry invokes only what is not done', async () => {
    // GIVEN partition 0 that succeeds and partition 1 whose offset 6 fails, one record per invocation
    const { invoker, store, relay, dispatcher } = setup({ batchSize: 1, onError: 'fail' });
    const event = kafkaEvent([...specs('t', 0, 0, 2), ...specs('t', 1, 5, 3, 6)]);
    // WHEN dispatched THEN it throws (the mapping retries) and offset 7 was not attempted
    await expect(dispatcher.handle(event, context())).rejects.toMatchObject({ name: 'BatchFailedError' });
    expect(invoker.calls.flat().sort()).toEqual(['t-0@0', 't-0@1', 't-1@5', 't-1@6']);
    expect([...store.done.keys()].sort()).toEqual(['t-0-0', 't-0-1', 't-1-5']);
    // WHEN the same event is retried THEN only the failed record is invoked again and the stored results are re-relayed
    invoker.calls.length = 0;
    relay.responses.length = 0;
    await expect(dispatcher.handle(event, context())).rejects.toMatchObject({ name: 'BatchFailedError' });
    expect(invoker.calls).toEqual([['t-1@6']]);
    expect(relay.responses.sort()).toEqual(['t-0@0={"echo":0}', 't-0@1={"echo":1}', 't-1@5={"echo":5}']);
  });

  test('reportBatchItemFailures: answers with the failed partition and the offset to retry from', async () => {
    const { dispatcher } = setup({ batchSize: 1, reportBatchItemFailures: true });
    const out = await dispatcher.handle(kafkaEvent([...specs('t', 0, 0, 2), ...specs('t', 1, 5, 3, 6)]), context());
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 't-1', offset: 6 } }] });
  });

  test('log: the failure goes to the error topic with its coordinates and records, the partition continues', async () => {
    const { invoker, store, relay, dispatcher } = setup({ batchSize: 1, onError: 'log' });
    const out = await dispatcher.handle(kafkaEvent(specs('t', 1, 5, 3, 6)), context());
    expect(out).toEqual({ batchItemFailures: [] });
    expect(invoker.calls.flat()).toEqual(['t-1@5', 't-1@6', 't-1@7']);
    expect(relay.errors).toHaveLength(1);
    expect(relay.errors[0]).toMatchObject({ topic: 't', partition: 1, startOffset: 6, endOffset: 7, functionName: 'target' });
    expect(relay.errors[0].records).toHaveLength(1);
    expect(store.done.get('t-1-6')?.outcome).toBe('logged');
  });

  test('drop: the failure is counted and remembered, nothing goes to the error topic', async () => {
    const { relay, store, dispatcher } = setup({ batchSize: 1, onError: 'drop' });
    await dispatcher.handle(kafkaEvent(specs('t', 1, 5, 3, 6)), context());
    expect(relay.errors).toEqual([]);
    expect(store.done.get('t-1-6')?.outcome).toBe('dropped');
    expect(relay.responses).toHaveLength(2);
  });

  test('deadline: with less time left than the margin no invocation starts and the batch is retried', async () => {
    // GIVEN 5 s left and a 10 s margin
    const { invoker, dispatcher } = setup({ timeMarginMs: 10_000, reportBatchItemFailures: true });
    // WHEN dispatched THEN nothing is invoked and the partition is reported from its first offset
    const out = await dispatcher.handle(kafkaEvent(specs('t', 0, 3, 2)), context(5_000));
    expect(invoker.calls).toEqual([]);
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 3 } }] });
  });

  test('duplicates: records already done are skipped, their stored results re-relayed, none invoked', async () => {
    // GIVEN an event dispatched once
    const { invoker, relay, dispatcher } = setup();
    const event = kafkaEvent(specs('t', 0, 0, 3));
    await dispatcher.handle(event, context());
    invoker.calls.length = 0;
    relay.responses.length = 0;
    // WHEN the mapping delivers it again
    await dispatcher.handle(event, context());
    // THEN the target is not invoked and the results are relayed again from the store
    expect(invoker.calls).toEqual([]);
    expect(relay.responses).toEqual(['t-0@0={"echo":0}', 't-0@1={"echo":1}', 't-0@2={"echo":2}']);
  });

  test('strict: a key another invocation holds is not invoked; the partition is retried from it', async () => {
    // GIVEN a store in which offset 1 is in progress elsewhere
    const { invoker, store, dispatcher } = setup({ idempotencyMode: 'strict', reportBatchItemFailures: true, batchSize: 1 });
    store.inProgress.set('t-0-1', Date.now() + 60_000);
    // WHEN dispatched
    const out = await dispatcher.handle(kafkaEvent(specs('t', 0, 0, 3)), context());
    // THEN offset 0 ran, offset 1 and what follows wait for a retry
    expect(invoker.calls).toEqual([['t-0@0']]);
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 1 } }] });
  });

  test('Event invocation: nothing is relayed to the response topic, the records are remembered as invoked', async () => {
    const { relay, store, dispatcher } = setup({}, new FakeInvoker('Event'));
    await dispatcher.handle(kafkaEvent(specs('t', 0, 0, 2)), context());
    expect(relay.responses).toEqual([]);
    expect(store.done.get('t-0-0')?.outcome).toBe('invoked');
  });
});
