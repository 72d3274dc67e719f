/**
 * cdk-kafka-lambda redrive from S3 on-failure objects and of Kinesis on-failure records, against the real stand-ins:
 * the local mappings (Kafka on the real broker, Kinesis on moto) write the on-failure records of poison batches to
 * moto's S3 and SQS, and redrive sends them again to a target under the Lambda emulator, which counts what it was
 * given (the Lambda front's record of its invocations).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel, Producer } from 'kafkajs';
import * as te from '../../testenv';
import { queueDepth as sqsDepth, runRedrive } from './redrive-support';
import { LocalKinesisEventSourceMapping } from '../../cli/kinesis/esm';
import type { LocalEventSourceMapping } from '../../cli/kafka/esm';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import { createIdempotencyTable } from '../runtime/support';
import { startLocalMapping, waitFor } from './support';

jest.setTimeout(120_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', '..', 'assets', 'dispatcher');

describe('cdk-kafka-lambda redrive: S3 objects and Kinesis records', () => {
  const env = te.loadEnv();
  const sqs = new SQSClient(te.awsClientConfig('sqs'));
  const s3 = new S3Client(te.awsClientConfig('s3'));
  const sns = new SNSClient(te.awsClientConfig('sns'));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const kinesis = new KinesisClient({ ...te.awsClientConfig('kinesis'), requestHandler: new NodeHttpHandler() });
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const fns: te.RunningLambda[] = [];
  const mappings: Array<LocalEventSourceMapping | LocalKinesisEventSourceMapping> = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redrive-sources-'));
  let producer: Producer;
  let target: string;
  let failing: string;

  beforeAll(async () => {
    producer = kafka.producer();
    await producer.connect();
    // The fixed target answers every event as it came (its invocations are recorded); the failing one throws.
    target = `redrive-src-target-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: target, dir: TARGETS, handler: 'index.ok' }));
    failing = `redrive-src-failing-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: failing, dir: TARGETS, handler: 'index.fail' }));
  });
  afterAll(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    await producer?.disconnect();
    sqs.destroy();
    s3.destroy();
    sns.destroy();
    dynamodb.destroy();
    kinesis.destroy();
    await Promise.all(fns.map((f) => f.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Every record the target was given: "topic-partition@offset" (Kafka) or "stream/shardId@sequenceNumber" (Kinesis). */
  async function delivered(): Promise<string[]> {
    return (await te.listInvocations(target)).flatMap((i) => {
      const event = JSON.parse(i.payload);
      if (Array.isArray(event.Records))
        return event.Records.map(
          (r: any) => `${r.eventSourceARN.split('/').pop()}/${r.eventID.split(':')[0]}@${r.kinesis.sequenceNumber}`,
        );
      return Object.values(event.records ?? {})
        .flat()
        .map((r: any) => `${r.topic}-${r.partition}@${r.offset}`);
    });
  }

  const run = (source: string[], stateFile: string, extra: string[] = []) =>
    runRedrive(target, source, stateFile, extra, { bootstrapServers: false });

  async function bucket(): Promise<string> {
    const name = `redrive-${randomUUID().slice(0, 12)}`;
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    return name;
  }
  const objects = async (name: string) => (await s3.send(new ListObjectsV2Command({ Bucket: name }))).KeyCount ?? 0;

  async function queue(): Promise<{ url: string; arn: string }> {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: `redrive-src-${randomUUID()}` }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    return { url, arn };
  }
  const queueDepth = (url: string) => sqsDepth(sqs, url);

  /** A 1-shard stream holding `n` records; returns its name and their coordinates. */
  async function stream(n: number): Promise<{ name: string; arn: string; coords: string[] }> {
    const name = `redrive-${randomUUID().slice(0, 8)}`;
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    const arn = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!.StreamARN!;
    const out = await kinesis.send(
      new PutRecordsCommand({
        StreamName: name,
        Records: Array.from({ length: n }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`record ${i}`) })),
      }),
    );
    return { name, arn, coords: out.Records!.map((r) => `${name}/${r.ShardId}@${r.SequenceNumber}`) };
  }

  /** The local Kinesis mapping invoking the failing function, no retries, its poison batches to `onFailure`. */
  async function kinesisMapping(streamName: string, onFailure: string): Promise<LocalKinesisEventSourceMapping> {
    const m = new LocalKinesisEventSourceMapping({
      stream: streamName,
      kinesisEndpoint: env.moto.endpoint,
      awsEndpoint: env.moto.endpoint,
      lambdaEndpoint: env.lambda.endpoint,
      functionName: failing,
      region: env.region,
      retryAttempts: 0,
      onFailure,
      checkpointFile: path.join(dir, `${randomUUID()}.json`),
      retryDelayMs: 50,
      pollIntervalMs: 100,
      log: () => undefined,
    });
    mappings.push(m);
    await m.start();
    return m;
  }

  test('Kafka on-failure objects in S3: the records their payload carries reach the target once; a second run delivers none', async () => {
    // GIVEN a poison batch of 4 records the local Kafka mapping sent to its S3 on-failure destination
    const t = `redrive-s3-${randomUUID()}`;
    await te.createTopic(t, 1);
    await producer.send({ topic: t, messages: [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: JSON.stringify({ n: i }) })) });
    const b = await bucket();
    const m = startLocalMapping(mappings as LocalEventSourceMapping[], {
      topics: [t],
      functionName: failing,
      retryAttempts: 0,
      onFailure: `arn:aws:s3:::${b}`,
    });
    await waitFor('the on-failure objects', async () => m.stats.recordsSentToOnFailure === 4);
    await m.stop();
    const stored = await objects(b);
    expect(stored).toBeGreaterThan(0);
    const state = path.join(dir, `${t}.json`);
    const before = (await delivered()).length;

    // WHEN a dry run lists them
    const dry = await run(['--from-s3', `s3://${b}`], state, ['--dry-run']);
    // THEN by coordinates, as carried by the objects
    expect(dry.summary).toMatchObject({ redriven: 4 });
    expect(dry.out.join('\n')).toContain(`${t}-0@0 (carried) -> function ${target}`);

    // WHEN the objects are redriven to the fixed target, without the cluster's flags (the records are in the objects)
    const first = await run(['--from-s3', `s3://${b}/aws/lambda/`], state);
    // THEN each record reached the target once, and the objects stay in the bucket
    expect(first.summary).toEqual({ redriven: 4, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await delivered()).slice(before)].sort()).toEqual([0, 1, 2, 3].map((o) => `${t}-0@${o}`));
    expect(await objects(b)).toBe(stored);
    // AND their event is the one the mapping sent, naming its cluster
    const sent = JSON.parse((await te.listInvocations(target)).pop()!.payload);
    expect(sent).toMatchObject({ eventSource: 'SelfManagedKafka', bootstrapServers: env.kafka.bootstrap.plaintext });
    expect(first.err.join('\n')).toContain(`redriven: ${t}-0@0..3 (4) -> function ${target}`);
    expect(first.err.join('\n')).not.toContain('eyJ'); // no base64 record values

    // WHEN redriven again with the state file
    const calls = (await te.listInvocations(target)).length;
    const again = await run(['--from-s3', `s3://${b}`], state);
    // THEN the objects are known as done: nothing is read or invoked, their records count as already done
    expect(again.summary).toEqual({ redriven: 0, alreadyDone: 4, failedAgain: 0, expired: 0, unreadable: 0 });
    expect((await te.listInvocations(target)).length).toBe(calls);
    const done = JSON.parse(fs.readFileSync(state, 'utf8')).objects as Record<string, number>;
    expect(Object.keys(done)).toHaveLength(stored);
    expect(Object.keys(done).every((k) => k.startsWith(`s3://${b}/aws/lambda/`))).toBe(true);
    expect(Object.values(done).reduce((n, c) => n + c, 0)).toBe(4);
  });

  test('Kinesis on-failure records in SQS: re-read from the stream by sequence number, delivered once as aws:kinesis', async () => {
    // GIVEN a poison batch of 5 records the local Kinesis mapping sent to its SQS on-failure destination
    const s = await stream(5);
    const q = await queue();
    const m = await kinesisMapping(s.name, q.arn);
    await waitFor('the on-failure record', async () => m.stats.recordsSentToOnFailure === 5);
    await m.stop();
    expect(await queueDepth(q.url)).toBe(1);
    const state = path.join(dir, `${s.name}.json`);
    const before = (await delivered()).length;

    // WHEN a dry run lists it
    const dry = await run(['--from-sqs', q.url], state, ['--dry-run']);
    // THEN it names the stream, shard and sequence numbers, and sends nothing
    expect(dry.summary).toMatchObject({ redriven: 5, expired: 0 });
    expect(dry.out.join('\n')).toContain(`${s.coords[0]}..${s.coords[4].split('@')[1]} (5) (read again from the stream)`);
    expect((await delivered()).length).toBe(before);
    await waitFor('the message visible again', async () => (await queueDepth(q.url)) === 1);

    // WHEN it is redriven to the fixed target
    const first = await run(['--from-sqs', q.url], state);
    // THEN each record reached it once, as the mapping's aws:kinesis event, and the message is deleted
    expect(first.summary).toEqual({ redriven: 5, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await delivered()).slice(before)].sort()).toEqual([...s.coords].sort());
    const event = JSON.parse((await te.listInvocations(target)).pop()!.payload);
    expect(event.Records[0]).toMatchObject({
      eventSource: 'aws:kinesis',
      eventSourceARN: s.arn,
      eventName: 'aws:kinesis:record',
    });
    expect(await queueDepth(q.url)).toBe(0);
    // AND the state file names the records by stream/shardId@sequenceNumber
    expect(JSON.parse(fs.readFileSync(state, 'utf8')).done).toEqual(expect.arrayContaining(s.coords));
  });

  test('Kinesis on-failure records through SNS to SQS: the notification is read, the records delivered once', async () => {
    // GIVEN a poison batch of 2 records the local Kinesis mapping published to an SNS topic a queue subscribes to
    const s = await stream(2);
    const q = await queue();
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: `redrive-${randomUUID().slice(0, 8)}` }))).TopicArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: q.arn }));
    const m = await kinesisMapping(s.name, topicArn);
    await waitFor('the on-failure record', async () => m.stats.recordsSentToOnFailure === 2);
    await m.stop();
    await waitFor('the notification in the queue', async () => (await queueDepth(q.url)) === 1);
    const before = (await delivered()).length;

    // WHEN redriven
    const r = await run(['--from-sqs', q.url], path.join(dir, `${s.name}.json`));
    // THEN both records reached the target once and the message is deleted
    expect(r.summary).toEqual({ redriven: 2, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await delivered()).slice(before)].sort()).toEqual([...s.coords].sort());
    expect(await queueDepth(q.url)).toBe(0);
  });

  test('Kinesis on-failure objects in S3: re-read and delivered once; a second run delivers none', async () => {
    // GIVEN a poison batch of 3 records the local Kinesis mapping sent to its S3 on-failure destination
    const s = await stream(3);
    const b = await bucket();
    const m = await kinesisMapping(s.name, `arn:aws:s3:::${b}`);
    await waitFor('the on-failure object', async () => m.stats.recordsSentToOnFailure === 3);
    await m.stop();
    const state = path.join(dir, `${s.name}.json`);
    const before = (await delivered()).length;

    // WHEN redriven twice, with the same state file
    const first = await run(['--from-s3', `s3://${b}`], state);
    const again = await run(['--from-s3', `s3://${b}`], state);
    // THEN the target got each record once
    expect(first.summary).toEqual({ redriven: 3, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect(again.summary).toEqual({ redriven: 0, alreadyDone: 3, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await delivered()).slice(before)].sort()).toEqual([...s.coords].sort());
    expect(await objects(b)).toBe(1);
  });

  test('a Kinesis range whose start the shard no longer holds: reported as expired by coordinates, the rest delivered', async () => {
    // GIVEN a shard holding 3 records, and an on-failure record whose batch of 4 starts one record before the first the
    // shard still holds (what a shard trimmed by its retention looks like: moto's sequence numbers start at 1)
    const s = await stream(3);
    const [shardId, firstSeq] = s.coords[0].split('/')[1].split('@');
    const lastSeq = s.coords[2].split('@')[1];
    const q = await queue();
    const body = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:x',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 1,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: String(BigInt(firstSeq) - 1n),
        endSequenceNumber: lastSeq,
        approximateArrivalOfFirstRecord: new Date().toISOString(),
        approximateArrivalOfLastRecord: new Date().toISOString(),
        batchSize: 4,
        streamArn: s.arn,
      },
    };
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: JSON.stringify(body) }));
    // AND one whose batch of 1 lies wholly before it
    const gone = { ...body.KinesisBatchInfo, endSequenceNumber: body.KinesisBatchInfo.startSequenceNumber, batchSize: 1 };
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: JSON.stringify({ ...body, KinesisBatchInfo: gone }) }));
    const before = (await delivered()).length;

    // WHEN redriven
    const r = await run(['--from-sqs', q.url], path.join(dir, `${s.name}-expired.json`));
    // THEN the 3 records still held are delivered, the missing ones reported as expired by their coordinates, never
    // skipped silently, and both messages stay in the queue
    expect(r.summary).toEqual({ redriven: 3, alreadyDone: 0, failedAgain: 0, expired: 2, unreadable: 0 });
    expect(r.err.join('\n')).toMatch(
      new RegExp(
        `expired: ${s.name}/${shardId}@${BigInt(firstSeq) - 1n} \\(1 record\\) of sqs message .*past the stream's retention`,
      ),
    );
    expect([...(await delivered()).slice(before)].sort()).toEqual([...s.coords].sort());
    expect(r.err.join('\n')).toMatch(
      new RegExp(
        `expired: ${s.name}/${shardId}@${BigInt(firstSeq) - 1n} up to before ${firstSeq} \\(1 record\\) of sqs message .*past the stream's retention; the message is left in the queue`,
      ),
    );
    await waitFor('the messages visible again', async () => (await queueDepth(q.url)) === 2);
  });

  test('Kinesis records through the dispatcher: its target runs each once; with a new state file its idempotency skips them', async () => {
    // GIVEN the dispatcher bundle (confluent payload, its own idempotency table) before an echoing target, and a
    // poison batch of 4 records the local Kinesis mapping sent to its SQS on-failure destination
    expect(fs.existsSync(path.join(DISPATCHER, 'index.js'))).toBe(true); // built by npm run build
    const echo = `redrive-src-echo-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: echo, dir: TARGETS, handler: 'index.echo' }));
    const config: DispatcherConfig = {
      version: 2,
      target: {
        functionName: echo,
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: 100,
        concurrency: 4,
        maxAttempts: 2,
        baseDelayMs: 20,
        maxDelayMs: 200,
      },
      onError: 'fail',
      reportBatchItemFailures: false,
      timeMarginMs: 1_000,
      idempotency: {
        tableName: await createIdempotencyTable(dynamodb),
        mode: 'batched',
        ttlSeconds: 3600,
        maxStoredResultBytes: 65536,
      },
    };
    const dispatcher = `redrive-src-disp-${randomUUID().slice(0, 8)}`;
    fns.push(
      await te.startLambda({
        name: dispatcher,
        dir: DISPATCHER,
        timeoutSeconds: 30,
        env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(config), POWERTOOLS_SERVICE_NAME: 'redrive-src-test' },
      }),
    );
    const s = await stream(4);
    const q = await queue();
    const m = await kinesisMapping(s.name, q.arn);
    await waitFor('the on-failure record', async () => m.stats.recordsSentToOnFailure === 4);
    await m.stop();
    const ran = async () =>
      (await te.listInvocations(echo)).flatMap((i) =>
        JSON.parse(i.payload).map((e: any) => `${e.payload.topic}/${e.payload.partition}@${e.payload.offset}`),
      );
    const body = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, VisibilityTimeout: 0 }))).Messages![0].Body!;

    // WHEN redriven through the dispatcher
    const first = await run(['--from-sqs', q.url], path.join(dir, `${s.name}.json`), ['--function-name', dispatcher]);
    // THEN its target ran each record once, named by the stream, shard and sequence number
    expect(first.summary).toEqual({ redriven: 4, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await ran())].sort()).toEqual([...s.coords].sort());

    // WHEN the same on-failure record is redriven again with a new state file
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: body }));
    const again = await run(['--from-sqs', q.url], path.join(dir, `${s.name}-fresh.json`), ['--function-name', dispatcher]);
    // THEN the dispatcher's idempotency keeps its target from running them twice
    expect(again.summary).toEqual({ redriven: 0, alreadyDone: 4, failedAgain: 0, expired: 0, unreadable: 0 });
    expect(await ran()).toHaveLength(4);
    expect(await queueDepth(q.url)).toBe(0);
  });
});
