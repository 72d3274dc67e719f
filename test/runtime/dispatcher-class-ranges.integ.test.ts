/**
 * The Dispatcher with its default idempotency for coordinate keys (DynamoDbRangeStore): redelivery with other batch
 * boundaries, two dispatchers racing on one event, a partition that moves to another consumer. DynamoDB Local, the
 * target under the Lambda emulator, results relayed to the broker.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';
import { Dispatcher, DynamoDbRangeStore, EmfMetrics, JsonLogger, KafkaRelay, TargetInvoker } from '../../runtime';
import { createIdempotencyTable, kafkaEvent, lambdaContext, partitionSpecs, readTopic, messagesIn } from './support';

jest.setTimeout(120_000);

describe('Dispatcher with idempotency per range', () => {
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

  async function echoTarget(env: Record<string, string> = {}): Promise<string> {
    const name = `ranges-echo-${randomUUID().slice(0, 8)}`;
    fns.push(
      await te.startLambda({
        name,
        dir: path.join(__dirname, '..', 'fixtures', 'targets'),
        handler: 'index.echo',
        env,
        concurrency: 4,
      }),
    );
    return name;
  }
  /** Each offset the target was invoked with, as "partition@offset", from the Lambda front's log (outside the dispatcher). */
  const invoked = async (name: string): Promise<string[]> =>
    (await te.listInvocations(name)).flatMap((i) =>
      JSON.parse(i.payload).map((e: any) => `${e.payload.partition}@${e.payload.offset}`),
    );
  /** A dispatcher in its own execution environment (as the mapping's concurrent invocations are). */
  function dispatcher(functionName: string, responseTopic?: string): Dispatcher {
    const relay =
      responseTopic === undefined
        ? undefined
        : new KafkaRelay({ bootstrapServers: [te.loadEnv().kafka.bootstrap.plaintext], responseTopic });
    if (relay) relays.push(relay);
    return new Dispatcher({
      invoker: new TargetInvoker({ functionName, client: lambda, maxAttempts: 1 }),
      store: new DynamoDbRangeStore({ tableName, client: dynamodb, container: randomUUID() }),
      relay,
      batchSize: 25,
      reportBatchItemFailures: true,
      logger: new JsonLogger({ write: () => undefined }),
      metrics: new EmfMetrics({ write: () => undefined }),
    });
  }

  test('a redelivery with other boundaries invokes only the new records, and relays only their results', async () => {
    // GIVEN 200 records of two partitions dispatched, results relayed
    const name = await echoTarget();
    const topic = `shifted-${randomUUID().slice(0, 8)}`;
    const responses = `${topic}-responses`;
    await te.createTopic(responses, 1);
    const d = dispatcher(name, responses);
    expect(
      await d.handle(kafkaEvent([...partitionSpecs(topic, 0, 0, 100), ...partitionSpecs(topic, 1, 0, 100)]), lambdaContext()),
    ).toEqual({ batchItemFailures: [] });
    // WHEN the mapping delivers offsets 60..159 of each partition
    const out = await d.handle(
      kafkaEvent([...partitionSpecs(topic, 0, 60, 100), ...partitionSpecs(topic, 1, 60, 100)]),
      lambdaContext(),
    );
    // THEN each record was invoked exactly once: 0..159 of both partitions
    expect(out).toEqual({ batchItemFailures: [] });
    const calls = await invoked(name);
    expect(calls).toHaveLength(320);
    expect(new Set(calls).size).toBe(320);
    // AND the response topic holds each result once: 200 first results and 120 new ones (the 80 redelivered done
    // records had theirs relayed already)
    expect(await readTopic(te, responses, 320)).toHaveLength(320);
    expect(await messagesIn(te, responses)).toBe(320);
  });

  test('two dispatchers racing on one event: each record is invoked by exactly one; the other retries its partitions and then finds them done', async () => {
    // GIVEN a target that takes 300 ms an invocation, and the same event of 3 partitions handed to two dispatchers at once
    const name = await echoTarget({ DELAY_MS: '300' });
    const topic = `race-${randomUUID().slice(0, 8)}`;
    const event = kafkaEvent([0, 1, 2].flatMap((p) => partitionSpecs(topic, p, 0, 50)));
    const [a, b] = [dispatcher(name), dispatcher(name)];
    // WHEN both handle it concurrently
    const outs = await Promise.all([a.handle(event, lambdaContext()), b.handle(event, lambdaContext())]);
    // THEN no record was invoked twice, and every partition is either done or reported for retry by one of them
    const first = await invoked(name);
    expect(new Set(first).size).toBe(first.length);
    const retried = outs.flatMap((o: any) => o.batchItemFailures);
    expect(retried.length).toBeGreaterThan(0);
    // AND the retries of the reported partitions invoke exactly the records not invoked yet
    for (const f of retried as { itemIdentifier: { partition: string; offset: number } }[]) {
      const partition = Number(f.itemIdentifier.partition.slice(topic.length + 1));
      const retry = kafkaEvent(partitionSpecs(topic, partition, f.itemIdentifier.offset, 50 - f.itemIdentifier.offset));
      expect(await a.handle(retry, lambdaContext())).toEqual({ batchItemFailures: [] });
    }
    const all = await invoked(name);
    expect(all).toHaveLength(150);
    expect(new Set(all).size).toBe(150);
  });

  test('a partition that moves to another consumer mid-way (a new dispatcher, its own container) resumes after what the first did', async () => {
    // GIVEN a first dispatcher that handled offsets 0..39 of partition 3
    const name = await echoTarget();
    const topic = `moved-${randomUUID().slice(0, 8)}`;
    await dispatcher(name).handle(kafkaEvent(partitionSpecs(topic, 3, 0, 40)), lambdaContext());
    // WHEN the new owner is delivered from the last committed offset it knows (20) onwards
    const out = await dispatcher(name).handle(kafkaEvent(partitionSpecs(topic, 3, 20, 60)), lambdaContext());
    // THEN it invokes only 40..79
    expect(out).toEqual({ batchItemFailures: [] });
    const calls = await invoked(name);
    expect(calls).toHaveLength(80);
    expect(calls.filter((c) => Number(c.split('@')[1]) >= 40)).toHaveLength(40);
  });
});
