/**
 * inProcessInvoker: the user's code as the Dispatcher's target, called in process. The whole pipeline with the real
 * stores and relay, and a relay failure, is in own-handler.integ.test.ts.
 */
import {
  decodeEvent,
  Dispatcher,
  EmfMetrics,
  inProcessInvoker,
  InProcessCall,
  InvocationBatch,
  JsonLogger,
  planBatches,
  SourceRecord,
  TargetInvocationError,
} from '../../runtime';
import { kafkaEvent, lambdaContext, partitionSpecs } from './support';

const silent = () => ({
  logger: new JsonLogger({ write: () => undefined }),
  metrics: new EmfMetrics({ write: () => undefined }),
});
const batchOf = (records: SourceRecord[]) =>
  planBatches(records, 'confluent', 100, 6 * 1024 * 1024, { eventSource: 'SelfManagedKafka' })[0] as InvocationBatch;

describe('inProcessInvoker', () => {
  test("answers a batch with the target's results, giving it the records, the payload a Lambda target would get and the deadline", async () => {
    // GIVEN a target answering each record's value doubled
    const calls: { offsets: (number | string)[]; call: InProcessCall }[] = [];
    const invoker = inProcessInvoker(
      (records, call) => {
        calls.push({ offsets: records.map((r) => r.offset), call });
        return records.map((r) => ({ doubled: (r.valueAsJson() as { n: number }).n * 2 }));
      },
      { functionName: 'orders', payloadFormat: 'nordstrom-json' },
    );
    const batch = batchOf(decodeEvent(kafkaEvent(partitionSpecs('t', 0, 3, 2))));
    // WHEN it is invoked
    const results = await invoker.invoke(batch, 12345);
    // THEN the results are the target's, in order, and the target saw the batch once
    expect(results).toEqual([{ doubled: 6 }, { doubled: 8 }]);
    expect(calls).toHaveLength(1);
    expect(calls[0].offsets).toEqual([3, 4]);
    expect(calls[0].call.deadline).toBe(12345);
    expect(calls[0].call.batch).toBe(batch);
    expect(invoker).toMatchObject({ functionName: 'orders', invocationType: 'RequestResponse', payloadFormat: 'nordstrom-json' });
  });

  test("fails with a TargetInvocationError naming the records, the target's error kept for the error record only, when the target throws", async () => {
    // GIVEN a target that throws an error whose message holds record data
    const invoker = inProcessInvoker(() => {
      throw new TypeError('CANARY-order-42 is not valid');
    });
    const batch = batchOf(decodeEvent(kafkaEvent(partitionSpecs('t', 1, 7, 3))));
    // WHEN it is invoked
    const error = await invoker.invoke(batch, Date.now() + 1000).then(
      () => undefined,
      (e: unknown) => e,
    );
    // THEN the error covers offsets 7..9, says the target failed, and its message does not carry the target's message
    expect(error).toBeInstanceOf(TargetInvocationError);
    const e = error as TargetInvocationError;
    expect(e).toMatchObject({ topic: 't', partition: 1, startOffset: 7, endOffset: 10, outcome: 'failed' });
    expect(e.message).toBe('t-1@7..9: in-process threw TypeError');
    expect(e.details.functionError).toBe('Unhandled');
    expect(JSON.parse(e.details.payload!)).toEqual({ errorType: 'TypeError', errorMessage: 'CANARY-order-42 is not valid' });
  });

  test.each([
    ['too few results', () => [1]],
    ['no array', () => ({ ok: true }) as unknown as unknown[]],
  ])('fails with a MalformedResponse when the target answers %s', async (_label, answer) => {
    // GIVEN a target that does not answer one result per record
    const invoker = inProcessInvoker(answer);
    const batch = batchOf(decodeEvent(kafkaEvent(partitionSpecs('t', 0, 0, 2))));
    // WHEN it is invoked THEN the batch fails as a malformed response
    await expect(invoker.invoke(batch, Date.now() + 1000)).rejects.toMatchObject({
      name: 'TargetInvocationError',
      details: { functionError: 'MalformedResponse' },
    });
  });

  test('fails with a MalformedResponse naming the records, not the data, when a result has no JSON; answers JSON values otherwise', async () => {
    // GIVEN a target answering a result whose toJSON throws with record data, and one answering undefined and a Date
    const records = decodeEvent(kafkaEvent(partitionSpecs('t', 0, 4, 2)));
    const bad = inProcessInvoker(() => [
      1,
      {
        toJSON: () => {
          throw new Error('CANARY-order-42');
        },
      },
    ]);
    const good = inProcessInvoker(() => [undefined, { at: new Date(0) }]);
    // WHEN each is invoked
    const error = await bad.invoke(batchOf(records), Date.now() + 1000).then(
      () => undefined,
      (e: unknown) => e as TargetInvocationError,
    );
    const results = await good.invoke(batchOf(records), Date.now() + 1000);
    // THEN the first fails as malformed, its message naming the records only and its payload the cause
    expect(error).toBeInstanceOf(TargetInvocationError);
    expect(error!.message).toBe('t-0@4..5: in-process answered results that are not JSON (Error)');
    expect(error!.details.functionError).toBe('MalformedResponse');
    expect(JSON.parse(error!.details.payload!)).toEqual({ errorType: 'Error', errorMessage: 'CANARY-order-42' });
    // AND the second answers what a Lambda target's JSON would carry
    expect(results).toEqual([null, { at: '1970-01-01T00:00:00.000Z' }]);
  });

  test('names a thrown value whose text cannot be had as an Error, in the error record only', async () => {
    // GIVEN a target throwing an object without a prototype (String() of it throws)
    const invoker = inProcessInvoker(() => {
      throw Object.create(null);
    });
    // WHEN it is invoked THEN the batch fails as a function error, as for any thrown value
    await expect(
      invoker.invoke(batchOf(decodeEvent(kafkaEvent(partitionSpecs('t', 0, 0, 1)))), Date.now() + 1000),
    ).rejects.toMatchObject({
      name: 'TargetInvocationError',
      message: 't-0@0..0: in-process threw Error',
      details: {
        functionError: 'Unhandled',
        payload: JSON.stringify({ errorType: 'Error', errorMessage: 'a thrown object without text' }),
      },
    });
  });

  test("as the Dispatcher's target: each partition's records in offset order, in batches; a partition whose call threw is retried, not logged with its data", async () => {
    // GIVEN a dispatcher whose in-process target throws for partition 1's records
    const seen: string[][] = [];
    const lines: string[] = [];
    const d = new Dispatcher({
      invoker: inProcessInvoker((records) => {
        seen.push(records.map((r) => `${r.partition}@${r.offset}`));
        if (records[0].partition === 1) throw new Error('CANARY value');
        return records.map(() => null);
      }),
      batchSize: 2,
      reportBatchItemFailures: true,
      ...silent(),
      logger: new JsonLogger({ write: (l) => lines.push(l) }),
    });
    // WHEN an event with three records of partition 0 and two of partition 1 is handled
    const out = await d.handle(kafkaEvent([...partitionSpecs('t', 0, 10, 3), ...partitionSpecs('t', 1, 5, 2)]), lambdaContext());
    // THEN partition 0 ran in two calls in offset order and partition 1 is retried from its first record
    expect(seen.filter((s) => s[0].startsWith('0@'))).toEqual([['0@10', '0@11'], ['0@12']]);
    expect(seen.filter((s) => s[0].startsWith('1@'))).toEqual([['1@5', '1@6']]);
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 't-1', offset: 5 } }] });
    // AND the log names the partition but not the target's message
    expect(lines.join('\n')).toContain('t-1@5..6: in-process threw Error');
    expect(lines.join('\n')).not.toContain('CANARY');
  });
});
