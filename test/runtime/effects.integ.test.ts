/**
 * Exactly-once effects of the Dispatcher with its real stores against DynamoDB Local and the broker: a batch the
 * mapping can send retried whole runs nothing twice, a failure is written to the error topic once however often it
 * is delivered, an open() that fails leaves nothing behind, two sessions of one process never share a lease, and a
 * strict key whose result is being relayed is not taken over. The target runs in process and counts what it ran.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import * as te from '../../testenv';
import {
  coordinatesKey,
  decodeEvent,
  Dispatcher,
  DynamoDbIdempotencyStore,
  DynamoDbRangeStore,
  EmfMetrics,
  inProcessInvoker,
  JsonLogger,
  KafkaRelay,
  SchemaDecodeError,
  SchemaRegistryUnavailableError,
  SourceRecord,
} from '../../runtime';
import { createIdempotencyTable, kafkaEvent, lambdaContext, partitionSpecs, messagesIn } from './support';

jest.setTimeout(180_000);

const quiet = { logger: new JsonLogger({ write: () => undefined }), metrics: new EmfMetrics({ write: () => undefined }) };

describe('exactly-once effects against DynamoDB Local and the broker', () => {
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

  /** A target in process that counts each record it ran to completion, and fails the calls `fails` picks. */
  function countingTarget(fails: (records: readonly SourceRecord[]) => boolean = () => false) {
    const ran = new Map<number, number>();
    const invoker = inProcessInvoker((records) => {
      if (fails(records)) throw new Error('the target failed');
      for (const r of records) ran.set(r.offset as number, (ran.get(r.offset as number) ?? 0) + 1);
      return records.map((r) => ({ ok: r.offset }));
    });
    return { invoker, ran };
  }

  function errorRelay(errorTopic: string): KafkaRelay {
    const relay = new KafkaRelay({ bootstrapServers: [te.loadEnv().kafka.bootstrap.plaintext], errorTopic });
    relays.push(relay);
    return relay;
  }

  test('a batch of 10,000 records at 100 per invocation, retried whole after its last invocation failed, runs no record twice', async () => {
    // GIVEN a target that fails the batch holding the last record, once
    const topic = `whole-${randomUUID().slice(0, 8)}`;
    let failed = 0;
    const { invoker, ran } = countingTarget((records) => records.some((r) => r.offset === 9_999) && failed++ === 0);
    const dispatcher = new Dispatcher({
      invoker,
      store: new DynamoDbRangeStore({ tableName, client: dynamodb }),
      onError: 'fail',
      ...quiet,
    });
    const event = kafkaEvent(partitionSpecs(topic, 0, 0, 10_000));
    // WHEN the mapping sends the batch, the handler throws (no partial batch response), and the batch comes again whole
    await expect(dispatcher.handle(event, lambdaContext())).rejects.toMatchObject({ name: 'BatchFailedError' });
    expect(failed).toBe(1);
    await expect(dispatcher.handle(event, lambdaContext())).resolves.toEqual({ batchItemFailures: [] });
    // THEN every record ran exactly once
    expect(ran.size).toBe(10_000);
    expect([...ran.values()].filter((n) => n !== 1)).toEqual([]);
  });

  test('1,000 records at one per invocation, every other one poison, stopped by a registry outage at the end and retried whole: each record runs or reaches the error topic once', async () => {
    // GIVEN odd offsets that never decode, and a registry that is out for offset 998 the first time it is asked
    const topic = `alternating-${randomUUID().slice(0, 8)}`;
    const errorTopic = `${topic}-errors`;
    await te.createTopic(errorTopic, 1);
    let outages = 0;
    const schemas = {
      active: true,
      decode: async (records: readonly SourceRecord[]) =>
        new Map<SourceRecord, Error>(
          records.flatMap((r): Array<[SourceRecord, Error]> => {
            const offset = r.offset as number;
            if (offset % 2 === 1)
              return [[r, new SchemaDecodeError(r.topic, r.partition, offset, 'value', 'confluent:7', 'not Avro')]];
            if (offset === 998 && outages++ === 0)
              return [[r, new SchemaRegistryUnavailableError(r.topic, r.partition, offset, 'value', 'confluent:7', 'HTTP 503')]];
            return [];
          }),
        ),
    };
    const { invoker, ran } = countingTarget();
    const dispatcher = new Dispatcher({
      invoker,
      store: new DynamoDbRangeStore({ tableName, client: dynamodb }),
      relay: errorRelay(errorTopic),
      schemas,
      onError: 'log',
      batchSize: 1,
      ...quiet,
    });
    const event = kafkaEvent(partitionSpecs(topic, 0, 0, 1_000));
    // WHEN the batch stops at the outage (the handler throws) and comes again whole
    await expect(dispatcher.handle(event, lambdaContext())).rejects.toMatchObject({ name: 'BatchFailedError' });
    expect(outages).toBe(1);
    await expect(dispatcher.handle(event, lambdaContext())).resolves.toEqual({ batchItemFailures: [] });
    // THEN each even record ran once, and the error topic holds each odd record once
    expect(ran.size).toBe(500);
    expect([...ran.values()].filter((n) => n !== 1)).toEqual([]);
    expect(await messagesIn(te, errorTopic)).toBe(500);
  });

  test('a batch whose range cannot be recorded after the target answered runs again on the retry, counted by RecordsNotRecorded', async () => {
    // GIVEN a DynamoDB client that refuses the first write of the ranges (after the target ran the batch)
    const topic = `unrecorded-${randomUUID().slice(0, 8)}`;
    let faults = 0;
    const flaky = intercepting(dynamodb, async (command, send) => {
      if (command.input.UpdateExpression?.startsWith('SET #ranges') && faults++ === 0) throw throttled();
      return send();
    });
    const lines: string[] = [];
    const { invoker, ran } = countingTarget();
    const dispatcher = new Dispatcher({
      invoker,
      store: new DynamoDbRangeStore({ tableName, client: flaky }),
      batchSize: 10,
      logger: quiet.logger,
      metrics: new EmfMetrics({ write: (line) => lines.push(line) }),
    });
    const event = kafkaEvent(partitionSpecs(topic, 0, 0, 30));
    // WHEN the first invocation's range write fails and the mapping retries the batch
    await expect(dispatcher.handle(event, lambdaContext())).rejects.toMatchObject({ name: 'BatchFailedError' });
    expect(faults).toBe(1);
    await expect(dispatcher.handle(event, lambdaContext())).resolves.toEqual({ batchItemFailures: [] });
    // THEN the 10 records of that invocation ran twice, the others once, and the metric counted those 10
    expect([...ran.entries()].filter(([, n]) => n === 2).map(([o]) => o)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ran.size).toBe(30);
    expect(lines.map((l) => JSON.parse(l).RecordsNotRecorded ?? 0)).toEqual([10, 0]);
  });

  test('a poison record delivered again after its batch finished is not written to the error topic again', async () => {
    // GIVEN a batch of 3 whose middle record never decodes, handled with its failure on the error topic
    const topic = `poison-${randomUUID().slice(0, 8)}`;
    const errorTopic = `${topic}-errors`;
    await te.createTopic(errorTopic, 1);
    const schemas = {
      active: true,
      decode: async (records: readonly SourceRecord[]) =>
        new Map<SourceRecord, Error>(
          records
            .filter((r) => r.offset === 1)
            .map((r) => [r, new SchemaDecodeError(r.topic, r.partition, r.offset, 'value', undefined, 'not Avro')]),
        ),
    };
    const { invoker, ran } = countingTarget();
    const dispatcher = new Dispatcher({
      invoker,
      store: new DynamoDbRangeStore({ tableName, client: dynamodb }),
      relay: errorRelay(errorTopic),
      schemas,
      onError: 'log',
      ...quiet,
    });
    const event = kafkaEvent(partitionSpecs(topic, 0, 0, 3));
    await dispatcher.handle(event, lambdaContext());
    // WHEN the mapping delivers the batch twice more
    await dispatcher.handle(event, lambdaContext());
    await dispatcher.handle(event, lambdaContext());
    // THEN its failure is on the error topic once, and the others ran once
    expect(await messagesIn(te, errorTopic)).toBe(1);
    expect([...ran.entries()]).toEqual([
      [0, 1],
      [2, 1],
    ]);
  });

  test('a sync target with no response topic leaves no results in the table, only one item per partition', async () => {
    // GIVEN a dispatcher with no relay
    const topic = `noresults-${randomUUID().slice(0, 8)}`;
    const { invoker } = countingTarget();
    const dispatcher = new Dispatcher({ invoker, store: new DynamoDbRangeStore({ tableName, client: dynamodb }), ...quiet });
    // WHEN 300 records of 2 partitions are dispatched
    await dispatcher.handle(
      kafkaEvent([...partitionSpecs(topic, 0, 0, 150), ...partitionSpecs(topic, 1, 0, 150)]),
      lambdaContext(),
    );
    // THEN the table holds the two partitions' items and nothing else of this topic
    const ids = (await dynamodb.send(new ScanCommand({ TableName: tableName })))
      .Items!.map((i) => i.id.S!)
      .filter((id) => id.startsWith(`${topic}#`));
    expect(ids.sort()).toEqual([`${topic}#0`, `${topic}#1`]);
  });

  test("an open() that fails after one partition's lease landed leaves nothing behind: the next invocation in the same environment takes both", async () => {
    // GIVEN a DynamoDB client whose second lease write is throttled once the first has landed
    const topic = `openfail-${randomUUID().slice(0, 8)}`;
    let leases = 0;
    let faults = 0;
    let firstLease: Promise<unknown> | undefined;
    const flaky = intercepting(dynamodb, async (command, send) => {
      if (command.constructor.name === 'UpdateItemCommand' && command.input.UpdateExpression?.startsWith('SET #lease')) {
        if (++leases === 1) return (firstLease = send());
        if (leases === 2) {
          await firstLease;
          faults++;
          throw throttled();
        }
      }
      return send();
    });
    const container = randomUUID();
    const records = decodeEvent(kafkaEvent([...partitionSpecs(topic, 0, 0, 5), ...partitionSpecs(topic, 1, 0, 5)]));
    const entries = records.map((record) => ({ key: coordinatesKey(record), record }));
    const first = new DynamoDbRangeStore({ tableName, client: flaky, container });
    // WHEN the first open fails on that write
    await expect(first.open(entries, Date.now() + 60_000)).rejects.toThrow('Rate of requests');
    expect(faults).toBe(1);
    // THEN the next invocation of the same execution environment holds both partitions
    const next = await new DynamoDbRangeStore({ tableName, client: dynamodb, container }).open(entries, Date.now() + 60_000);
    expect(next.inProgress.size).toBe(0);
    await next.close();
  });

  test('two sessions opened at once in one process never both hold a partition', async () => {
    // GIVEN one store (one execution environment) whose reads of the partition answer both sessions together
    const topic = `twice-${randomUUID().slice(0, 8)}`;
    const reads: Array<() => void> = [];
    const together = intercepting(dynamodb, async (command, send) => {
      if (command.constructor.name === 'BatchGetItemCommand') {
        await new Promise<void>((resolve) => {
          reads.push(resolve);
          if (reads.length === 2) reads.forEach((r) => r());
        });
      }
      return send();
    });
    const store = new DynamoDbRangeStore({ tableName, client: together });
    const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 5)));
    const entries = records.map((record) => ({ key: coordinatesKey(record), record }));
    // WHEN two sessions open it concurrently
    const sessions = await Promise.all([store.open(entries, Date.now() + 60_000), store.open(entries, Date.now() + 60_000)]);
    // THEN exactly one holds it; for the other every record is in progress
    expect(sessions.map((s) => s.inProgress.size).sort()).toEqual([0, 5]);
    await Promise.all(sessions.map((s) => s.close()));
  });

  test('strict mode: a key whose result could not be stored is not taken over while its relay runs, and is once released', async () => {
    // GIVEN a strict key completed with a result too big to store, its relay in progress until the invocation ends
    const topic = `relaying-${randomUUID().slice(0, 8)}`;
    const store = new DynamoDbIdempotencyStore({ tableName, client: dynamodb, maxResultBytes: 100 });
    const [record] = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 1)));
    const key = coordinatesKey(record);
    expect((await store.acquire(key, record, Date.now() + 60_000)).state).toBe('acquired');
    const session = await store.open([], Date.now() + 60_000);
    await session.complete([{ key, record, outcome: 'responded', result: 'x'.repeat(200), relayPending: true }]);
    // WHEN another invocation asks for the key meanwhile
    const meanwhile = await store.acquire(key, record, Date.now() + 60_000);
    // THEN it is in progress; once the holder releases it (its relay failed), the next takes it, knowing the result was lost
    expect(meanwhile.state).toBe('in-progress');
    await store.release(key);
    expect(await store.acquire(key, record, Date.now() + 60_000)).toEqual({ state: 'acquired', lostResult: true });
  });
});

/** A client whose every command goes through `intercept`, which sends it on (or not) with `send`: faults from outside the store. */
function intercepting(
  client: DynamoDBClient,
  intercept: (
    command: { constructor: { name: string }; input: { UpdateExpression?: string } },
    send: () => Promise<unknown>,
  ) => Promise<unknown>,
): DynamoDBClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return (command: never) => intercept(command, () => target.send(command));
    },
  });
}

const throttled = () =>
  Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' });
