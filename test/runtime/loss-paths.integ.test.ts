/**
 * The dispatcher's loss paths, each closed: a record is acknowledged only once its result is on the response topic
 * or the record is on an error path. The real Dispatcher, idempotency stores and KafkaRelay against
 * DynamoDB Local and the broker; the target is an in-process stub of the Lambda client, so a test can make it
 * slow, failing or oversized (the ledger proves the same through the Lambda emulator).
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';
import {
  Dispatcher,
  DispatcherOptions,
  idempotencyStore,
  EmfMetrics,
  JsonLogger,
  jsonPointerKey,
  KafkaRelay,
  kafkajsProducerFactory,
  ProducerFactory,
  TargetInvoker,
} from '../../runtime';
import { createIdempotencyTable, kafkaEvent, lambdaContext, readTopic, RecordSpec } from './support';

jest.setTimeout(120_000);

type Entry = { payload: { topic: string; partition: number; offset: number; value: any; timestamp: number } };

/** A Lambda client whose target runs in-process: `run` gets the Confluent payload and the abort signal. */
function stubTarget(
  run: (
    entries: Entry[],
    signal?: AbortSignal,
  ) => Promise<{ result?: (e: Entry) => unknown; functionError?: string; errorMessage?: string; logResult?: string }>,
) {
  const batches: Entry[][] = [];
  const client = {
    send: async (cmd: { input: { Payload: Uint8Array } }, opts?: { abortSignal?: AbortSignal }) => {
      const entries = JSON.parse(Buffer.from(cmd.input.Payload).toString('utf8')) as Entry[];
      batches.push(entries);
      // Like the SDK, the call gives up when its signal aborts; the target's run goes on regardless.
      const signal = opts?.abortSignal;
      const aborted = new Promise<never>((_, reject) =>
        signal?.addEventListener('abort', () =>
          reject(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })),
        ),
      );
      const out = await Promise.race([run(entries, signal), aborted]);
      const payload =
        out.functionError !== undefined
          ? { errorType: 'Error', errorMessage: out.errorMessage ?? 'failed on purpose' }
          : entries.map((e) => ({
              payload: { ...e.payload, value: undefined, result: out.result ? out.result(e) : { ok: true } },
            }));
      return {
        StatusCode: 200,
        FunctionError: out.functionError,
        ExecutedVersion: '$LATEST',
        LogResult: out.logResult === undefined ? undefined : Buffer.from(out.logResult).toString('base64'),
        Payload: Buffer.from(JSON.stringify(payload)),
      };
    },
    destroy: () => undefined,
  };
  return {
    client: client as unknown as LambdaClient,
    batches,
    invokedOffsets: () => batches.flat().map((e) => `${e.payload.partition}@${e.payload.offset}`),
  };
}

/** The relay's producer on the real broker, failing its next `failures.next` sends (a broker outage as the relay sees it). */
function faultyProducer(failures: { next: number; hit: number }): ProducerFactory {
  return (settings, logger) => {
    const real = kafkajsProducerFactory(settings, logger);
    return {
      send: async (topic, messages) => {
        if (failures.next > 0) {
          failures.next--;
          failures.hit++;
          throw new Error('connection to the broker lost');
        }
        await real.send(topic, messages);
      },
      disconnect: () => real.disconnect(),
    };
  };
}

describe('dispatcher loss paths', () => {
  const env = te.loadEnv();
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const relays: KafkaRelay[] = [];
  let tableName: string;
  beforeAll(async () => {
    tableName = await createIdempotencyTable(dynamodb);
  });
  afterAll(async () => {
    dynamodb.destroy();
    await Promise.all(relays.map((r) => r.disconnect()));
  });

  const id = () => randomUUID().slice(0, 8);
  async function topics() {
    const t = { source: `loss-src-${id()}`, response: `loss-resp-${id()}`, error: `loss-err-${id()}` };
    await te.createTopic(t.response, 2);
    await te.createTopic(t.error, 1);
    return t;
  }
  function relay(t: { response: string; error: string }, failures = { next: 0, hit: 0 }) {
    const r = new KafkaRelay({
      bootstrapServers: [env.kafka.bootstrap.plaintext],
      responseTopic: t.response,
      errorTopic: t.error,
      producerFactory: faultyProducer(failures),
    });
    relays.push(r);
    return r;
  }
  function metricsSink() {
    const lines: any[] = [];
    return {
      metrics: new EmfMetrics({ write: (l) => lines.push(JSON.parse(l)) }),
      count: (name: string) => lines.reduce((a, l) => a + (l[name] ?? 0), 0),
    };
  }
  function dispatcher(o: Partial<DispatcherOptions> & { client: LambdaClient; logTail?: boolean }): Dispatcher {
    return new Dispatcher({
      invoker: new TargetInvoker({ functionName: 'target', client: o.client, maxAttempts: 1, logTail: o.logTail }),
      // The store the dispatcher bundle builds for these options.
      store: idempotencyStore(
        { tableName, client: dynamodb },
        { strict: o.idempotencyMode === 'strict', customKey: o.keyOf !== undefined },
      ),
      logger: new JsonLogger({ write: () => undefined }),
      metrics: new EmfMetrics({ write: () => undefined }),
      ...o,
    });
  }
  const specs = (
    topic: string,
    partition: number,
    from: number,
    n: number,
    value: (i: number) => unknown = (i) => ({ n: i }),
  ): RecordSpec[] => Array.from({ length: n }, (_, i) => ({ topic, partition, offset: from + i, value: value(from + i) }));

  test('a result too big to store whose relay failed is invoked again on the retry and reaches the response topic (ReinvokedForLostResult)', async () => {
    // GIVEN a target answering 70 KB results (over the 64 KiB stored) and a response topic that fails the first send
    const t = await topics();
    const target = stubTarget(async () => ({ result: (e) => ({ n: e.payload.offset, pad: 'x'.repeat(70 * 1024) }) }));
    const failures = { next: 1, hit: 0 };
    const { metrics, count } = metricsSink();
    const d = dispatcher({ client: target.client, relay: relay(t, failures), metrics, reportBatchItemFailures: true });
    const event = kafkaEvent(specs(t.source, 0, 0, 3));
    // WHEN the event is handled, the relay fails, and the mapping retries it
    const first = await d.handle(event, lambdaContext());
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: `${t.source}-0`, offset: 0 } }] });
    expect(failures.hit).toBe(1);
    const second = await d.handle(event, lambdaContext());
    // THEN the retry invoked the target again for the three records and relayed their results
    expect(second).toEqual({ batchItemFailures: [] });
    expect(target.invokedOffsets()).toEqual(['0@0', '0@1', '0@2', '0@0', '0@1', '0@2']);
    expect(count('ReinvokedForLostResult')).toBe(3);
    const responses = await readTopic(te, t.response, 3);
    expect(responses.map((m) => JSON.parse(m.key).offset).sort()).toEqual([0, 1, 2]);
    // AND once relayed, a third delivery skips them
    await d.handle(event, lambdaContext());
    expect(target.batches).toHaveLength(2);
  });

  test('a record sharing its custom key with a record whose result was too big to keep is invoked itself, not acknowledged without a response', async () => {
    // GIVEN order K responded in an earlier event with a 70 KB result (not stored)
    const t = await topics();
    const order = `order-${id()}`;
    const target = stubTarget(async () => ({ result: (e) => ({ order: e.payload.value.orderId, pad: 'x'.repeat(70 * 1024) }) }));
    const d = dispatcher({ client: target.client, relay: relay(t), keyOf: jsonPointerKey('/orderId') });
    await d.handle(kafkaEvent([{ topic: t.source, partition: 0, offset: 0, value: { orderId: order } }]), lambdaContext());
    // WHEN a record of another partition with the same order comes, alone and with a redelivery of the first
    await d.handle(kafkaEvent([{ topic: t.source, partition: 1, offset: 4, value: { orderId: order } }]), lambdaContext());
    await d.handle(
      kafkaEvent([
        { topic: t.source, partition: 0, offset: 0, value: { orderId: order } },
        { topic: t.source, partition: 1, offset: 5, value: { orderId: order } },
      ]),
      lambdaContext(),
    );
    // THEN each copy was invoked and got its own response; the redelivered first one too, as the key's item now names
    // the last copy done (the at-least-once case of results too big to keep)
    expect(target.invokedOffsets()).toEqual(['0@0', '1@4', '0@0', '1@5']);
    const responses = await readTopic(te, t.response, 4);
    expect(new Set(responses.map((m) => `${JSON.parse(m.key).partition}@${JSON.parse(m.key).offset}`))).toEqual(
      new Set(['0@0', '1@4', '1@5']),
    );
  });

  test('a record that cannot be decoded, with onError log, keeps its bytes on the error topic: base64 key, value, headers, timestamp and the decode error', async () => {
    // GIVEN a record whose value is not base64 between two good ones
    const t = await topics();
    const target = stubTarget(async () => ({}));
    const event = kafkaEvent(specs(t.source, 0, 0, 3));
    const bad = event.records[`${t.source}-0`][1];
    bad.value = 'CANARY-not-base64!';
    bad.key = Buffer.from('the-key').toString('base64');
    bad.headers = [{ trace: [1, 2, 3] }];
    const d = dispatcher({ client: target.client, relay: relay(t), onError: 'log' });
    // WHEN handled
    expect(await d.handle(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    // THEN the good records were invoked and the bad one is on the error topic with its raw fields
    expect(target.invokedOffsets()).toEqual(['0@0', '0@2']);
    const [err] = await readTopic(te, t.error, 1);
    expect(JSON.parse(err.key)).toEqual({ topic: t.source, partition: 0, startOffset: 1, endOffset: 2 });
    const value = JSON.parse(err.value);
    expect(value.records).toEqual([{ ...bad }]);
    expect(value.records[0]).toMatchObject({
      value: 'CANARY-not-base64!',
      key: bad.key,
      headers: [{ trace: [1, 2, 3] }],
      timestamp: bad.timestamp,
    });
    expect(value.functionError).toBe('KafkaRecordDecodeError');
    expect(JSON.parse(value.payload).errorMessage).toMatch(
      new RegExp(`^Kafka record ${t.source}-0@1: value is not valid base64`),
    );
    expect(value.payload).not.toContain('CANARY');
  });

  test('a record sharing its custom key with a record that failed is not acknowledged: its partition is retried from it', async () => {
    // GIVEN partition 0 offset 5 and partition 1 offset 3 with the same order id; the target fails that order
    const t = await topics();
    const order = `order-${id()}`;
    const target = stubTarget(async (entries) =>
      entries.some((e) => e.payload.value.poison) ? { functionError: 'Unhandled' } : {},
    );
    const d = dispatcher({
      client: target.client,
      relay: relay(t),
      keyOf: jsonPointerKey('/orderId'),
      reportBatchItemFailures: true,
    });
    const event = kafkaEvent([
      { topic: t.source, partition: 0, offset: 5, value: { orderId: order, poison: true } },
      { topic: t.source, partition: 1, offset: 2, value: { orderId: `${order}-other` } },
      { topic: t.source, partition: 1, offset: 3, value: { orderId: order } },
      { topic: t.source, partition: 1, offset: 4, value: { orderId: `${order}-later` } },
    ]);
    // WHEN handled
    const out = (await d.handle(event, lambdaContext())) as any;
    // THEN both partitions are retried: partition 0 from the failed record, partition 1 from the skipped copy
    expect(out.batchItemFailures).toEqual(
      expect.arrayContaining([
        { itemIdentifier: { partition: `${t.source}-0`, offset: 5 } },
        { itemIdentifier: { partition: `${t.source}-1`, offset: 3 } },
      ]),
    );
    expect(out.batchItemFailures).toHaveLength(2);
    // AND the copy was never invoked
    expect(target.invokedOffsets()).not.toContain('1@3');
  });

  test('a record sharing its custom key follows its first copy: the result relayed under its coordinates, or the error topic with its bytes', async () => {
    const t = await topics();
    const order = `order-${id()}`;
    const target = stubTarget(async (entries) =>
      entries.some((e) => e.payload.value.poison)
        ? { functionError: 'Unhandled' }
        : { result: (e) => ({ order: e.payload.value.orderId }) },
    );
    const d = dispatcher({
      client: target.client,
      relay: relay(t),
      keyOf: jsonPointerKey('/orderId'),
      onError: 'log',
      batchSize: 1,
    });
    // GIVEN a good order on both partitions and a poison order on both partitions
    const event = kafkaEvent([
      { topic: t.source, partition: 0, offset: 0, value: { orderId: `${order}-good` } },
      { topic: t.source, partition: 0, offset: 1, value: { orderId: `${order}-bad`, poison: true } },
      { topic: t.source, partition: 1, offset: 0, value: { orderId: `${order}-good` } },
      { topic: t.source, partition: 1, offset: 1, value: { orderId: `${order}-bad` } },
    ]);
    // WHEN handled
    expect(await d.handle(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    // THEN the target ran once per order; partition 1's good copy got the result, its bad copy an error record with its bytes
    expect(target.invokedOffsets()).toEqual(['0@0', '0@1']);
    const responses = await readTopic(te, t.response, 2);
    expect(responses.map((m) => `${JSON.parse(m.key).partition}@${JSON.parse(m.key).offset}`).sort()).toEqual(['0@0', '1@0']);
    const errors = await readTopic(te, t.error, 2);
    const byPartition = new Map(errors.map((m) => [JSON.parse(m.key).partition, JSON.parse(m.value)]));
    expect(byPartition.get(1).functionError).toBe('SharedKeyFailedError');
    expect(byPartition.get(1).records[0].value).toBe(event.records[`${t.source}-1`][1].value);
    expect(byPartition.get(0).functionError).toBe('Unhandled');
  });

  test('strict: a target still running after the dispatcher stopped waiting is not run again until its timeout has passed', async () => {
    // GIVEN a target that takes 2.5 s (timeout 3 s) and a dispatcher with 1 s left
    const t = await topics();
    const runs: { start: number; end: number }[] = [];
    const target = stubTarget(async () => {
      const start = Date.now();
      await new Promise((r) => setTimeout(r, 2_500)); // keeps running when the dispatcher aborts its wait
      runs.push({ start, end: Date.now() });
      return {};
    });
    const { metrics, count } = metricsSink();
    const d = dispatcher({
      client: target.client,
      idempotencyMode: 'strict',
      timeMarginMs: 0,
      targetTimeoutMs: 3_000,
      reportBatchItemFailures: true,
      metrics,
      relay: relay(t),
    });
    const event = kafkaEvent(specs(t.source, 0, 0, 1));
    // WHEN the first attempt is cut off after 1 s and the mapping retries at once, and again
    const first = await d.handle(event, lambdaContext(1_000));
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: `${t.source}-0`, offset: 0 } }] });
    expect(count('RecordsUnknownOutcome')).toBe(1);
    const retried = await d.handle(event, lambdaContext(10_000));
    // THEN the retry finds the key in progress and does not invoke
    expect(retried).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: `${t.source}-0`, offset: 0 } }] });
    expect(target.batches).toHaveLength(1);
    // AND once the first run's timeout has passed, the record is invoked again, never overlapping the first run
    await new Promise((r) => setTimeout(r, 3_500));
    expect(await d.handle(event, lambdaContext(10_000))).toEqual({ batchItemFailures: [] });
    expect(target.batches).toHaveLength(2);
    runs.sort((a, b) => a.start - b.start);
    expect(runs[1].start).toBeGreaterThanOrEqual(runs[0].end);
  });

  test('batched: a cut-off invocation that ends on the error path says outcome unknown', async () => {
    const t = await topics();
    const target = stubTarget(() => new Promise((r) => setTimeout(() => r({}), 2_000)));
    const d = dispatcher({ client: target.client, onError: 'log', timeMarginMs: 0, relay: relay(t) });
    await d.handle(kafkaEvent(specs(t.source, 0, 0, 2)), lambdaContext(500));
    const [err] = await readTopic(te, t.error, 1);
    const value = JSON.parse(err.value);
    expect(value.outcome).toBe('unknown');
    expect(value.functionError).toBe('Timeout');
    expect(value.records).toHaveLength(2);
  });

  test('one malformed record fails only its partition, from its position; the other partitions are processed', async () => {
    const t = await topics();
    const target = stubTarget(async () => ({}));
    const d = dispatcher({ client: target.client, relay: relay(t), reportBatchItemFailures: true });
    const event = kafkaEvent([...specs(t.source, 0, 0, 3), ...specs(t.source, 1, 0, 2), ...specs(t.source, 2, 0, 2)]);
    delete event.records[`${t.source}-0`][1].offset; // no offset
    event.records[`${t.source}-1`][1] = 'not a record';
    event.records[`${t.source}-2`][0].timestamp = '2024-01-01';
    const out = (await d.handle(event, lambdaContext())) as any;
    expect(out.batchItemFailures).toEqual(
      expect.arrayContaining([
        { itemIdentifier: { partition: `${t.source}-0`, offset: 1 } },
        { itemIdentifier: { partition: `${t.source}-1`, offset: 1 } },
        { itemIdentifier: { partition: `${t.source}-2`, offset: 0 } },
      ]),
    );
    // the records before each bad one were invoked
    expect(target.invokedOffsets().sort()).toEqual(['0@0', '1@0']);
  });

  test('no record bytes reach a log line or an exception message; the target log tail only when asked for', async () => {
    // GIVEN records carrying a canary in key, value and headers, a target that fails and logs the canary
    const t = await topics();
    const canary = `CANARY${id()}`;
    const lines: string[] = [];
    const target = stubTarget(async () => ({
      functionError: 'Unhandled',
      errorMessage: `cannot process ${canary}`,
      logResult: `processing ${canary}`,
    }));
    const event = kafkaEvent([
      { topic: t.source, partition: 0, offset: 0, key: canary, value: { canary }, headers: { h: canary } },
      { topic: t.source, partition: 0, offset: 1, value: { canary } },
    ]);
    event.records[`${t.source}-0`][1].value = `${canary}!!`; // not base64
    const d = dispatcher({
      client: target.client,
      relay: relay(t),
      keyOf: jsonPointerKey('/canary'),
      logger: new JsonLogger({ write: (l) => lines.push(l) }),
    });
    // WHEN handled with onError fail (thrown) THEN the exception names coordinates only
    const thrown = await d.handle(event, lambdaContext()).catch((e: Error) => e);
    expect(thrown).toBeInstanceOf(Error);
    expect(String((thrown as Error).message)).not.toContain(canary);
    expect(String((thrown as Error).stack)).not.toContain(canary);
    // AND what the Lambda runtime writes of a thrown error (its enumerable properties, nested) holds none either
    expect(JSON.stringify(thrown)).not.toContain(canary);
    expect(JSON.stringify({ ...(thrown as Error) })).not.toContain(canary);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).not.toContain(canary);
    // AND with logTail the error record carries it (the error path, not a log)
    const tail = dispatcher({
      client: target.client,
      relay: relay(t),
      onError: 'log',
      logTail: true,
      logger: new JsonLogger({ write: (l) => lines.push(l) }),
    });
    await tail.handle(kafkaEvent([{ topic: t.source, partition: 0, offset: 7, value: { canary } }]), lambdaContext());
    const [err] = await readTopic(te, t.error, 1);
    expect(JSON.parse(err.value).logResult).toContain(canary);
    for (const l of lines) expect(l).not.toContain(canary);
  });
});
