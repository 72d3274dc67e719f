/**
 * End to end on real stand-ins: records put into a Kinesis stream (moto), read back per shard with
 * GetShardIterator/GetRecords and shaped into the aws:kinesis event exactly as the event source mapping
 * sends it (one shard per batch), then given to the dispatcher bundle (assets/dispatcher) under the Lambda
 * emulator through the Invoke API; the target under the emulator, the idempotency table in DynamoDB Local,
 * the response topic on the real Kafka broker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import * as te from '../../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import { bigSequence, createIdempotencyTable, invokeFunction, kinesisEvent, kinesisEventsByShard, readTopic } from './support';

jest.setTimeout(120_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', '..', 'assets', 'dispatcher');

interface Put {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  value: any;
}

describe('Kinesis stream → dispatcher bundle → target → response topic', () => {
  const env = te.loadEnv();
  const kinesis = new KinesisClient({
    ...te.awsClientConfig('kinesis'),
    // The client defaults to HTTP/2 (for SubscribeToShard); moto answers HTTP/1.1.
    requestHandler: new NodeHttpHandler(),
  });
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const fns: te.RunningLambda[] = [];
  let tableName: string;

  beforeAll(async () => {
    expect(fs.existsSync(path.join(DISPATCHER, 'index.js'))).toBe(true); // built by npm run build
    tableName = await createIdempotencyTable(dynamodb);
  });
  afterAll(async () => {
    kinesis.destroy();
    lambda.destroy();
    dynamodb.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });

  /** A 2-shard stream with these values put in order under rotating partition keys. */
  async function stream(values: unknown[]): Promise<{ name: string; arn: string; puts: Put[] }> {
    const name = `e2e-${randomUUID().slice(0, 8)}`;
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
    const arn = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!.StreamARN!;
    const puts: Put[] = [];
    for (const [n, value] of values.entries()) {
      const partitionKey = `user-${n % 4}`;
      const out = await kinesis.send(
        new PutRecordCommand({ StreamName: name, PartitionKey: partitionKey, Data: Buffer.from(JSON.stringify(value)) }),
      );
      puts.push({ shardId: out.ShardId!, sequenceNumber: out.SequenceNumber!, partitionKey, value });
    }
    return { name, arn, puts };
  }

  /** The events the mapping would send: one per shard, its records in stream order, shaped as Lambda's Kinesis guide shows. */
  const eventsOf = (name: string, arn: string) => kinesisEventsByShard(kinesis, name, arn, env.region);

  async function target(handler: string): Promise<string> {
    const name = `e2e-${handler}-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: TARGETS, handler: `index.${handler}` }));
    return name;
  }

  async function dispatcher(s: {
    target: string;
    responseTopic?: string;
    reportBatchItemFailures?: boolean;
    batchSize?: number;
  }): Promise<te.RunningLambda> {
    const config: DispatcherConfig = {
      version: 2,
      target: {
        functionName: s.target,
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: s.batchSize ?? 100,
        concurrency: 4,
        maxAttempts: 3,
        baseDelayMs: 20,
        maxDelayMs: 200,
      },
      onError: 'fail',
      reportBatchItemFailures: s.reportBatchItemFailures ?? false,
      timeMarginMs: 1_000,
      idempotency: { tableName, mode: 'batched', ttlSeconds: 3600, maxStoredResultBytes: 65536 },
      relay:
        s.responseTopic === undefined
          ? undefined
          : {
              bootstrapServers: [env.kafka.bootstrap.plaintext],
              auth: 'none',
              tls: false,
              responseTopic: s.responseTopic,
              clientId: 'kinesis-e2e',
            },
    };
    const fn = await te.startLambda({
      name: `e2e-disp-${randomUUID().slice(0, 8)}`,
      dir: DISPATCHER,
      timeoutSeconds: 30,
      env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(config), POWERTOOLS_SERVICE_NAME: 'kinesis-e2e' },
    });
    fns.push(fn);
    return fn;
  }

  const invoke = (fn: te.RunningLambda, event: unknown) => invokeFunction(lambda, fn.name, event);

  /** The records the target received, in invocation order: [shardId, sequenceNumber, value]. */
  const received = async (name: string) =>
    (await te.listInvocations(name))
      .sort((a, b) => a.at - b.at)
      .flatMap((i) => JSON.parse(i.payload).map((e: any) => [e.payload.partition, e.payload.offset, e.payload.value]));

  test('each record reaches the target once in shard order, its result is relayed keyed by stream/shard/sequence, and a re-delivered event does not invoke the target again', async () => {
    // GIVEN 10 records put on a 2-shard stream, read back per shard into the mapping's events
    const { name, arn, puts } = await stream(Array.from({ length: 10 }, (_, n) => ({ n })));
    const events = await eventsOf(name, arn);
    expect(events).toHaveLength(2);
    expect(events.flatMap((e) => e.event.Records)).toHaveLength(10);
    // (moto numbers each shard's records 1, 2, 3…; real sequence numbers have 56+ digits: the last test here.)
    const echo = await target('echo');
    const responseTopic = `e2e-resp-${randomUUID()}`;
    await te.createTopic(responseTopic, 1);
    const fn = await dispatcher({ target: echo, responseTopic, batchSize: 3 });

    // WHEN each shard's event is delivered to the dispatcher
    for (const { event } of events)
      expect(await invoke(fn, event)).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });

    // THEN the target got every record exactly once, each shard's in the order they were put, sequence numbers exact
    const got = await received(echo);
    expect(got).toHaveLength(10);
    for (const { shardId } of events) {
      const expected = puts.filter((p) => p.shardId === shardId).map((p) => [shardId, p.sequenceNumber, p.value]);
      expect(got.filter(([shard]: [string]) => shard === shardId)).toEqual(expected);
    }
    // AND each result is on the response topic, keyed by the stream, shard id and sequence number
    const relayed = await readTopic(te, responseTopic, 10);
    expect(
      relayed.map((m) => JSON.parse(m.key)).sort((a, b) => (a.partition + a.offset).localeCompare(b.partition + b.offset)),
    ).toEqual(
      puts
        .map((p) => ({ topic: name, partition: p.shardId, offset: p.sequenceNumber }))
        .sort((a, b) => (a.partition + a.offset).localeCompare(b.partition + b.offset)),
    );
    const first = relayed.find(
      (m) => JSON.parse(m.key).offset === puts[0].sequenceNumber && JSON.parse(m.key).partition === puts[0].shardId,
    )!;
    expect(JSON.parse(first.value)).toMatchObject({
      topic: name,
      partition: puts[0].shardId,
      offset: puts[0].sequenceNumber,
      result: { echo: { n: 0 }, key: puts[0].partitionKey },
    });
    expect(first.headers).toEqual({
      'source-topic': name,
      'source-partition': puts[0].shardId,
      'source-offset': puts[0].sequenceNumber,
    });

    // WHEN the mapping delivers the same events again (a retry after a lost answer)
    const invocationsBefore = (await te.listInvocations(echo)).length;
    for (const { event } of events)
      expect(await invoke(fn, event)).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    // THEN the target is not invoked again
    expect(await te.listInvocations(echo)).toHaveLength(invocationsBefore);
  });

  test('fails a poison record: the answer names its sequence number, records after it in its shard wait, the other shard is done', async () => {
    // GIVEN 8 records of which the fourth asks the target to fail
    const { name, arn, puts } = await stream(Array.from({ length: 8 }, (_, n) => (n === 3 ? { fail: true } : { n })));
    const poison = puts[3];
    const events = await eventsOf(name, arn);
    expect(events).toHaveLength(2);
    const failOn = await target('failOn');
    const fn = await dispatcher({ target: failOn, reportBatchItemFailures: true, batchSize: 1 });

    // WHEN each shard's event is delivered
    const answers = new Map<string, any>();
    for (const { shardId, event } of events) {
      const out = await invoke(fn, event);
      expect(out.functionError).toBeUndefined();
      answers.set(shardId, out.body);
    }

    // THEN the poison's shard answers with its sequence number (Kinesis's format), the other shard with none
    for (const { shardId } of events) {
      expect(answers.get(shardId)).toEqual({
        batchItemFailures: shardId === poison.shardId ? [{ itemIdentifier: poison.sequenceNumber }] : [],
      });
    }
    // AND in the poison's shard, no record after it was invoked
    const got = await received(failOn);
    const shardPuts = puts.filter((p) => p.shardId === poison.shardId);
    const upToPoison = shardPuts.slice(0, shardPuts.indexOf(poison) + 1).map((p) => [p.shardId, p.sequenceNumber, p.value]);
    expect(got.filter(([shard]: [string]) => shard === poison.shardId)).toEqual(upToPoison);

    // WHEN the mapping retries the poison's shard from the reported sequence number
    const retry = events.find((e) => e.shardId === poison.shardId)!.event;
    retry.Records = retry.Records.filter((r: any) => BigInt(r.kinesis.sequenceNumber) >= BigInt(poison.sequenceNumber));
    const before = got.length;
    const again = await invoke(fn, retry);
    // THEN it fails there again, having invoked only the poison record
    expect(again.body).toEqual({ batchItemFailures: [{ itemIdentifier: poison.sequenceNumber }] });
    expect((await received(failOn)).slice(before)).toEqual([[poison.shardId, poison.sequenceNumber, { fail: true }]]);
  });

  test('sequence numbers of real length (56 digits, equal as doubles) stay distinct and exact through the bundle, the target and the response topic', async () => {
    // GIVEN an aws:kinesis event of one shard whose sequence numbers differ only past double precision
    const streamName = `big-${randomUUID().slice(0, 8)}`;
    const shardId = 'shardId-000000000006';
    const seqs = [bigSequence(1), bigSequence(2), bigSequence(3)];
    expect(new Set(seqs.map(Number)).size).toBe(1);
    const event = kinesisEvent(seqs.map((sequenceNumber, i) => ({ stream: streamName, shardId, sequenceNumber, value: { i } })));
    const echo = await target('echo');
    const responseTopic = `e2e-big-${randomUUID()}`;
    await te.createTopic(responseTopic, 1);
    const fn = await dispatcher({ target: echo, responseTopic });
    // WHEN delivered twice
    expect(await invoke(fn, event)).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await invoke(fn, event)).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    // THEN the target got the three records once, with their exact sequence numbers, and each result is keyed by its own
    expect(await received(echo)).toEqual(seqs.map((seq, i) => [shardId, seq, { i }]));
    const relayed = await readTopic(te, responseTopic, 6);
    expect(
      [...new Set(relayed.map((m) => m.key))].map((k) => JSON.parse(k)).sort((a, b) => a.offset.localeCompare(b.offset)),
    ).toEqual(seqs.map((offset) => ({ topic: streamName, partition: shardId, offset })));
  });
});
