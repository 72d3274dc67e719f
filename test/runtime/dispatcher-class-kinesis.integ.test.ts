/**
 * The Dispatcher class (runtime API) on aws:kinesis events: target functions under the Lambda emulator,
 * the idempotency table in DynamoDB Local, the error topic on the real broker.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';
import {
  Dispatcher,
  DispatcherOptions,
  DynamoDbIdempotencyStore,
  EmfMetrics,
  JsonLogger,
  KafkaRelay,
  TargetInvoker,
} from '../../runtime';
import { bigSequence, createIdempotencyTable, kinesisEvent, KinesisRecordSpec, lambdaContext, readTopic } from './support';

jest.setTimeout(90_000);

const SHARD0 = 'shardId-000000000000';
const SHARD1 = 'shardId-000000000001';

describe('Dispatcher on Kinesis events', () => {
  const env = te.loadEnv();
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const fns: te.RunningLambda[] = [];
  const relays: KafkaRelay[] = [];
  let tableName: string;
  beforeAll(async () => {
    tableName = await createIdempotencyTable(dynamodb);
  });
  afterAll(async () => {
    lambda.destroy();
    dynamodb.destroy();
    await Promise.all([...fns.map((f) => f.stop()), ...relays.map((r) => r.disconnect())]);
  });

  async function target(handler: string, extraEnv: Record<string, string> = {}): Promise<string> {
    const name = `kin-${handler}-${randomUUID().slice(0, 8)}`;
    fns.push(
      await te.startLambda({
        name,
        dir: path.join(__dirname, '..', 'fixtures', 'targets'),
        handler: `index.${handler}`,
        env: extraEnv,
      }),
    );
    return name;
  }
  const quiet = () => ({
    logger: new JsonLogger({ write: () => undefined }),
    metrics: new EmfMetrics({ write: () => undefined }),
  });
  const dispatcher = (functionName: string, o: Partial<DispatcherOptions> = {}) =>
    new Dispatcher({
      invoker: new TargetInvoker({ functionName, client: lambda, maxAttempts: 2, baseDelayMs: 20 }),
      store: new DynamoDbIdempotencyStore({ tableName, client: dynamodb }),
      ...quiet(),
      ...o,
    });
  /** Per invocation: "shard@sequence" of each record the target received, with the invocation's start and end. */
  const invocations = async (name: string) =>
    (await te.listInvocations(name)).map((i) => ({
      at: i.at,
      doneAt: i.doneAt!,
      records: JSON.parse(i.payload).map((e: any) => `${e.payload.partition}@${e.payload.offset}`) as string[],
    }));
  const specs = (
    stream: string,
    shardId: string,
    from: number,
    n: number,
    value = (i: number): unknown => ({ n: i }),
  ): KinesisRecordSpec[] =>
    Array.from({ length: n }, (_, k) => ({
      stream,
      shardId,
      sequenceNumber: bigSequence(from + k),
      partitionKey: `pk-${from + k}`,
      value: value(from + k),
    }));

  test('records of one shard are invoked one after the other in sequence order; every shard is done', async () => {
    // GIVEN two shards of 3 records each, interleaved in the event, and a target that takes 200 ms per invocation
    const name = await target('slow', { SLOW_MS: '200' });
    const stream = `order-${randomUUID().slice(0, 8)}`;
    const a = specs(stream, SHARD0, 10, 3);
    const b = specs(stream, SHARD1, 10, 3);
    const event = kinesisEvent([a[0], b[0], a[1], b[1], a[2], b[2]]);
    // WHEN dispatched one record per invocation, shards in parallel
    const out = await dispatcher(name, { batchSize: 1, concurrency: 2 }).handle(event, lambdaContext());
    // THEN success, and within each shard each invocation started after the previous one ended, in sequence order
    expect(out).toEqual({ batchItemFailures: [] });
    const calls = await invocations(name);
    for (const shard of [SHARD0, SHARD1]) {
      const mine = calls.filter((c) => c.records[0].startsWith(shard)).sort((x, y) => x.at - y.at);
      expect(mine.map((c) => c.records)).toEqual([10, 11, 12].map((i) => [`${shard}@${bigSequence(i)}`]));
      for (let i = 1; i < mine.length; i++) expect(mine[i].at).toBeGreaterThanOrEqual(mine[i - 1].doneAt);
    }
  });

  test('fails a shard at its first failed record: the partial batch response names that sequence number, later records of the shard wait', async () => {
    // GIVEN shard 0 whose second record makes the target fail, and a healthy shard 1
    const name = await target('failOn');
    const stream = `pbr-${randomUUID().slice(0, 8)}`;
    const event = kinesisEvent([
      ...specs(stream, SHARD0, 1, 3, (i) => (i === 2 ? { fail: true } : { n: i })),
      ...specs(stream, SHARD1, 1, 2),
    ]);
    // WHEN dispatched with reportBatchItemFailures
    const out = await dispatcher(name, { batchSize: 1, reportBatchItemFailures: true }).handle(event, lambdaContext());
    // THEN the answer is Kinesis's format: the failed record's sequence number, as a string
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: bigSequence(2) }] });
    // AND shard 0's third record was not invoked, shard 1 was done
    const invoked = (await invocations(name)).flatMap((c) => c.records).sort();
    expect(invoked).toEqual([
      `${SHARD0}@${bigSequence(1)}`,
      `${SHARD0}@${bigSequence(2)}`,
      `${SHARD1}@${bigSequence(1)}`,
      `${SHARD1}@${bigSequence(2)}`,
    ]);
  });

  test('fails the invocation naming stream/shard@sequence without reportBatchItemFailures; the retried event invokes only the records not yet done', async () => {
    // GIVEN a shard whose third record makes the target fail
    const name = await target('failOn');
    const stream = `retry-${randomUUID().slice(0, 8)}`;
    const event = kinesisEvent(specs(stream, SHARD0, 1, 4, (i) => (i === 3 ? { fail: true } : { n: i })));
    const d = dispatcher(name, { batchSize: 2 });
    // WHEN dispatched THEN BatchFailedError names the stream, shard and sequence numbers of the failed batch
    await expect(d.handle(event, lambdaContext())).rejects.toThrow(
      expect.objectContaining({
        name: 'BatchFailedError',
        message: expect.stringContaining(
          `${stream}/${SHARD0}@${bigSequence(3)}..${bigSequence(4)}: the target answered with a Unhandled function error`,
        ),
      }),
    );
    const first = (await invocations(name)).map((c) => c.records);
    expect(first).toEqual(
      [
        [1, 2],
        [3, 4],
      ].map((ns) => ns.map((i) => `${SHARD0}@${bigSequence(i)}`)),
    );
    // WHEN the mapping retries the same event
    await expect(d.handle(event, lambdaContext())).rejects.toThrow(/BatchFailedError|function error/);
    // THEN records 1 and 2 are done and skipped: only 3 and 4 are invoked again
    expect((await invocations(name)).slice(first.length).map((c) => c.records)).toEqual([
      [3, 4].map((i) => `${SHARD0}@${bigSequence(i)}`),
    ]);
  });

  test('idempotency keys are stream-shard-sequence with the full sequence number; the table keeps shard and sequence as strings', async () => {
    // GIVEN sequence numbers that differ only past double precision, and the same sequence number in two shards
    const name = await target('echo');
    const stream = `keys-${randomUUID().slice(0, 8)}`;
    const event = kinesisEvent([...specs(stream, SHARD0, 1, 2), ...specs(stream, SHARD1, 1, 1)]);
    const d = dispatcher(name);
    // WHEN dispatched twice
    expect(await d.handle(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(await d.handle(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    // THEN every record was invoked exactly once: no two keys collided and the second delivery was skipped
    expect((await invocations(name)).flatMap((c) => c.records).sort()).toEqual([
      `${SHARD0}@${bigSequence(1)}`,
      `${SHARD0}@${bigSequence(2)}`,
      `${SHARD1}@${bigSequence(1)}`,
    ]);
    // AND the item of a record holds its coordinates as strings (a DynamoDB number keeps only 38 digits)
    const key = `${stream}-${SHARD0}-${bigSequence(2)}`;
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: tableName, Key: { id: { S: key } }, ConsistentRead: true }),
    );
    expect(Item).toMatchObject({
      state: { S: 'COMPLETED' },
      topic: { S: stream },
      partition: { S: SHARD0 },
      offset: { S: bigSequence(2) },
    });
  });

  test('log: a record whose data is not base64 goes to the error topic keyed by stream, shard and sequence numbers; the others are invoked', async () => {
    // GIVEN a shard of three records, the second with data that is not base64
    const name = await target('echo');
    const errorTopic = `kin-err-${randomUUID()}`;
    await te.createTopic(errorTopic, 1);
    const relay = new KafkaRelay({ bootstrapServers: [env.kafka.bootstrap.plaintext], errorTopic });
    relays.push(relay);
    const stream = `log-${randomUUID().slice(0, 8)}`;
    const event = kinesisEvent(specs(stream, SHARD0, 1, 3));
    event.Records[1].kinesis.data = 'not*base64';
    // WHEN dispatched with onError log
    expect(await dispatcher(name, { onError: 'log', relay }).handle(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    // THEN the error record names the stream, the shard and [sequence, sequence + 1)
    const [m] = await readTopic(te, errorTopic, 1);
    expect(JSON.parse(m.key)).toEqual({
      topic: stream,
      partition: SHARD0,
      startOffset: bigSequence(2),
      endOffset: bigSequence(3),
    });
    expect(m.headers).toMatchObject({
      'source-topic': stream,
      'source-partition': SHARD0,
      'source-start-offset': bigSequence(2),
    });
    expect(JSON.parse(JSON.parse(m.value).payload)).toMatchObject({
      errorType: 'KinesisRecordDecodeError',
      errorMessage: expect.stringContaining(`${stream}/${SHARD0}@${bigSequence(2)}: data is not valid base64`),
    });
    expect((await invocations(name)).flatMap((c) => c.records)).toEqual([
      `${SHARD0}@${bigSequence(1)}`,
      `${SHARD0}@${bigSequence(3)}`,
    ]);
  });
});
