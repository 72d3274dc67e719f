/**
 * The Dispatcher class (runtime API) with strict idempotency and business keys: DynamoDB Local and
 * target functions under the Lambda emulator.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';
import {
  decodeEvent,
  Dispatcher,
  DynamoDbIdempotencyStore,
  EmfMetrics,
  JsonLogger,
  jsonPointerKey,
  TargetInvoker,
} from '../../runtime';
import { createIdempotencyTable, kafkaEvent, lambdaContext, partitionSpecs } from './support';

jest.setTimeout(90_000);

describe('Dispatcher with strict idempotency and business keys', () => {
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const fns: te.RunningLambda[] = [];
  let tableName: string;
  beforeAll(async () => {
    tableName = await createIdempotencyTable(dynamodb);
  });
  afterAll(async () => {
    lambda.destroy();
    dynamodb.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });

  async function echoTarget(): Promise<string> {
    const name = `strict-echo-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: path.join(__dirname, '..', 'fixtures', 'targets'), handler: 'index.echo' }));
    return name;
  }
  const invoked = async (name: string) =>
    (await te.listInvocations(name)).flatMap((i) => JSON.parse(i.payload).map((e: any) => e.payload.offset));
  const quiet = () => ({
    logger: new JsonLogger({ write: () => undefined }),
    metrics: new EmfMetrics({ write: () => undefined }),
  });

  test('strict: a key in progress in another invocation stops its partition there; leases of unprocessed records are released', async () => {
    // GIVEN another invocation holds offset 2 of partition 0 in progress
    const name = await echoTarget();
    const store = new DynamoDbIdempotencyStore({ tableName, client: dynamodb });
    const topic = `strict-${randomUUID().slice(0, 8)}`;
    const event = kafkaEvent([...partitionSpecs(topic, 0, 0, 4), ...partitionSpecs(topic, 1, 0, 2)]);
    const [, , held] = decodeEvent(event);
    await store.acquire(`${topic}-0-2`, held, Date.now() + 60_000);
    const dispatcher = new Dispatcher({
      invoker: new TargetInvoker({ functionName: name, client: lambda }),
      store,
      idempotencyMode: 'strict',
      reportBatchItemFailures: true,
      ...quiet(),
    });
    // WHEN dispatched
    const out = await dispatcher.handle(event, lambdaContext());
    // THEN partition 0 is retried from offset 2; offsets 0-1 and partition 1 were invoked
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: 2 } }] });
    expect((await invoked(name)).sort()).toEqual([0, 0, 1, 1]);
    // AND offset 3 was released (acquirable again) while the done ones report completed
    const records = decodeEvent(event);
    expect(await store.acquire(`${topic}-0-3`, records[3], Date.now() + 1000)).toEqual({ state: 'acquired', lostResult: false });
    expect((await store.acquire(`${topic}-0-1`, records[1], Date.now() + 1000)).state).toBe('completed');
  });

  test('strict: a second delivery of a done batch does not invoke the target', async () => {
    const name = await echoTarget();
    const store = new DynamoDbIdempotencyStore({ tableName, client: dynamodb });
    const metrics = new EmfMetrics({ write: () => undefined });
    const dispatcher = new Dispatcher({
      invoker: new TargetInvoker({ functionName: name, client: lambda }),
      store,
      idempotencyMode: 'strict',
      logger: new JsonLogger({ write: () => undefined }),
      metrics,
    });
    const event = kafkaEvent(partitionSpecs(`again-${randomUUID().slice(0, 8)}`, 0, 0, 3));
    await dispatcher.handle(event, lambdaContext());
    await dispatcher.handle(event, lambdaContext());
    expect(await invoked(name)).toEqual([0, 1, 2]);
  });

  test('business key from the value: the same order id is invoked once, across records and across deliveries', async () => {
    // GIVEN records of two partitions where two carry the same orderId
    const name = await echoTarget();
    const store = new DynamoDbIdempotencyStore({ tableName, client: dynamodb });
    const topic = `biz-${randomUUID().slice(0, 8)}`;
    const id = randomUUID();
    const dispatcher = new Dispatcher({
      invoker: new TargetInvoker({ functionName: name, client: lambda }),
      store,
      keyOf: jsonPointerKey('/orderId'),
      ...quiet(),
    });
    await dispatcher.handle(
      kafkaEvent([
        { topic, partition: 0, offset: 1, value: { orderId: `${id}-A` } },
        { topic, partition: 0, offset: 2, value: { orderId: `${id}-B` } },
        { topic, partition: 1, offset: 7, value: { orderId: `${id}-A` } },
      ]),
      lambdaContext(),
    );
    // WHEN a later record repeats order B
    await dispatcher.handle(kafkaEvent([{ topic, partition: 0, offset: 9, value: { orderId: `${id}-B` } }]), lambdaContext());
    // THEN each order reached the target once
    expect(await invoked(name)).toEqual([1, 2]);
  });

  test('log: a record without the business key goes to the error path and the others continue', async () => {
    const name = await echoTarget();
    const store = new DynamoDbIdempotencyStore({ tableName, client: dynamodb });
    const lines: string[] = [];
    const dispatcher = new Dispatcher({
      invoker: new TargetInvoker({ functionName: name, client: lambda }),
      store,
      keyOf: jsonPointerKey('/orderId'),
      onError: 'log',
      logger: new JsonLogger({ write: (l) => lines.push(l) }),
      metrics: new EmfMetrics({ write: () => undefined }),
    });
    const topic = `nokey-${randomUUID().slice(0, 8)}`;
    const out = await dispatcher.handle(
      kafkaEvent([
        { topic, partition: 0, offset: 1, value: { other: 1 } },
        { topic, partition: 0, offset: 2, value: { orderId: randomUUID() } },
      ]),
      lambdaContext(),
    );
    expect(out).toEqual({ batchItemFailures: [] });
    expect(await invoked(name)).toEqual([2]);
    const error = lines.map((l) => JSON.parse(l)).find((l) => l.level === 'ERROR');
    expect(error).toMatchObject({
      message: 'records failed',
      topic,
      partition: 0,
      startOffset: 1,
      endOffset: 2,
      error: { name: 'IdempotencyKeyError' },
    });
  });
});
