/**
 * The local event source mapping against the real broker, functions under the Lambda emulator (or
 * in-process) and on-failure destinations on moto (SQS, SNS, S3) and Kafka.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../../../testenv';
import { LocalEsmOptions, LocalEventSourceMapping } from '../../../cli/kafka/esm';
import { startLocalMapping, waitFor } from '../support';

jest.setTimeout(120_000);

const TARGETS = path.join(__dirname, '..', '..', 'fixtures', 'targets');

describe('local event source mapping', () => {
  const env = te.loadEnv();
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const admin = kafka.admin();
  const sqs = new SQSClient(te.awsClientConfig('sqs'));
  const s3 = new S3Client(te.awsClientConfig('s3', undefined, { forcePathStyle: true }));
  const sns = new SNSClient(te.awsClientConfig('sns'));
  const fns: te.RunningLambda[] = [];
  const mappings: LocalEventSourceMapping[] = [];

  beforeAll(async () => {
    await producer.connect();
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    await producer.disconnect();
    await admin.disconnect();
    sqs.destroy();
    s3.destroy();
    sns.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });

  async function fn(handler: string): Promise<string> {
    const name = `esm-${handler}-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: TARGETS, handler: `index.${handler}` }));
    return name;
  }
  async function topic(partitions = 1, configEntries: { name: string; value: string }[] = []): Promise<string> {
    const t = `esm-${randomUUID()}`;
    await te.createTopic(t, partitions, undefined, configEntries);
    return t;
  }
  const mapping = (o: Partial<LocalEsmOptions> & { topics: string[] }) => startLocalMapping(mappings, o);
  const events = async (name: string) => (await te.listInvocations(name)).map((i) => JSON.parse(i.payload));
  const committed = async (groupId: string, t: string) =>
    (await admin.fetchOffsets({ groupId, topics: [t] }))[0].partitions
      .sort((a, b) => a.partition - b.partition)
      .map((p) => Number(p.offset));
  async function queue(): Promise<{ arn: string; url: string }> {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: `esm-${randomUUID()}` }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    return { arn, url };
  }
  async function drain(url: string, n: number): Promise<any[]> {
    const out: any[] = [];
    await waitFor(`${n} SQS messages`, async () => {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      out.push(...(r.Messages ?? []).map((m) => JSON.parse(m.Body!)));
      return out.length >= n;
    });
    return out;
  }

  test('builds the SelfManagedKafka event like the ESM and commits after success', async () => {
    // GIVEN two partitions with keyed, unkeyed, tombstone and header records
    const t = await topic(2);
    await producer.send({
      topic: t,
      messages: [
        { partition: 0, key: 'k0', value: 'v0', headers: { h: 'hv', multi: ['a', 'b'] } },
        { partition: 0, key: null, value: 'v1' },
        { partition: 1, key: 'k2', value: null },
      ],
    });
    const name = await fn('ok');
    // WHEN the mapping consumes them
    const m = mapping({ topics: [t], functionName: name });
    await waitFor('commit', async () => (await committed(m.groupId, t)).join() === '2,1');
    // THEN one event per partition batch, shaped as Lambda's Kafka guide shows
    const recs = (await events(name)).flatMap((e) => {
      expect(e).toMatchObject({ eventSource: 'SelfManagedKafka', bootstrapServers: env.kafka.bootstrap.plaintext });
      return Object.entries(e.records);
    });
    const byKey = Object.fromEntries(recs);
    expect(Object.keys(byKey).sort()).toEqual([`${t}-0`, `${t}-1`]);
    expect(byKey[`${t}-0`]).toEqual([
      {
        topic: t,
        partition: 0,
        offset: 0,
        timestamp: expect.any(Number),
        timestampType: 'CREATE_TIME',
        key: Buffer.from('k0').toString('base64'),
        value: Buffer.from('v0').toString('base64'),
        headers: [{ h: [...Buffer.from('hv')] }, { multi: [97] }, { multi: [98] }],
      },
      {
        topic: t,
        partition: 0,
        offset: 1,
        timestamp: expect.any(Number),
        timestampType: 'CREATE_TIME',
        value: Buffer.from('v1').toString('base64'),
        headers: [],
      },
    ]);
    // a tombstone has a key and no value
    expect(byKey[`${t}-1`]).toEqual([
      {
        topic: t,
        partition: 1,
        offset: 0,
        timestamp: expect.any(Number),
        timestampType: 'CREATE_TIME',
        key: Buffer.from('k2').toString('base64'),
        headers: [],
      },
    ]);
    expect(m.stats).toMatchObject({ recordsCommitted: 3, recordsSentToOnFailure: 0 });
  });

  test('splits at batchSize and sends aws:kafka events with the cluster ARN', async () => {
    const t = await topic(1);
    await producer.send({ topic: t, messages: Array.from({ length: 7 }, (_, i) => ({ value: `m${i}` })) });
    const name = await fn('ok');
    const clusterArn = 'arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc-1';
    const m = mapping({
      topics: [t],
      functionName: name,
      batchSize: 3,
      eventSource: { eventSourceArn: clusterArn, bootstrapServers: 'b-1:9098' },
    });
    await waitFor('commit', async () => (await committed(m.groupId, t))[0] === 7);
    const evs = await events(name);
    expect(evs.map((e) => e.records[`${t}-0`].map((r: any) => r.offset))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(evs[0]).toMatchObject({ eventSource: 'aws:kafka', eventSourceArn: clusterArn, bootstrapServers: 'b-1:9098' });
  });

  test('fails a batch until retryAttempts are exhausted, then sends the documented on-failure record to SQS and commits past it', async () => {
    const t = await topic(1);
    await producer.send({ topic: t, messages: [{ value: 'a' }, { value: 'b' }] });
    const name = await fn('fail');
    const q = await queue();
    const m = mapping({ topics: [t], functionName: name, retryAttempts: 2, onFailure: q.arn });
    const [rec] = await drain(q.url, 1);
    await waitFor('commit', async () => (await committed(m.groupId, t))[0] === 2);
    expect(await events(name)).toHaveLength(3); // first attempt + 2 retries
    expect(rec).toEqual({
      requestContext: {
        requestId: expect.any(String),
        functionArn: expect.stringContaining(`function:${name}`),
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      KafkaBatchInfo: {
        batchSize: 2,
        bootstrapServers: env.kafka.bootstrap.plaintext,
        payloadSize: expect.any(Number),
        recordsInfo: {
          [`${t}-0`]: {
            firstRecordOffset: '0',
            lastRecordOffset: '1',
            firstRecordTimestamp: expect.stringMatching(/Z$/),
            lastRecordTimestamp: expect.stringMatching(/Z$/),
          },
        },
      },
    });
  });

  test('a failed batch older than maximumRecordAgeSeconds goes to the SNS destination after its first failure', async () => {
    // GIVEN records written two minutes ago (their CreateTime), a failing function, retries without a bound,
    // a maximum record age of one minute and an SNS topic delivering to a queue
    const t = await topic(1);
    const twoMinutesAgo = Date.now() - 120_000;
    await producer.send({ topic: t, messages: ['a', 'b'].map((value) => ({ value, timestamp: String(twoMinutesAgo) })) });
    const name = await fn('fail');
    const q = await queue();
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: `esm-${randomUUID()}` }))).TopicArn!;
    await sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: q.arn, Attributes: { RawMessageDelivery: 'true' } }),
    );
    // WHEN the mapping consumes them
    const m = mapping({ topics: [t], functionName: name, retryAttempts: -1, maximumRecordAgeSeconds: 60, onFailure: topicArn });
    const [rec] = await drain(q.url, 1);
    await waitFor('commit', async () => (await committed(m.groupId, t))[0] === 2);
    // THEN the expired batch is not retried: one invocation, and the on-failure record names both records
    expect(await events(name)).toHaveLength(1);
    expect(rec).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 1 },
      KafkaBatchInfo: {
        batchSize: 2,
        recordsInfo: {
          [`${t}-0`]: {
            firstRecordOffset: '0',
            lastRecordOffset: '1',
            firstRecordTimestamp: new Date(twoMinutesAgo).toISOString(),
          },
        },
      },
    });
    expect(rec.payload).toBeUndefined(); // only S3 gets the event
  });

  test('bisects a failing batch down to the poison record; S3 gets the whole event as payload', async () => {
    const t = await topic(1);
    await producer.send({ topic: t, messages: ['a', 'b', 'poison', 'd'].map((value) => ({ value })) });
    const name = await fn('failOnPoison');
    const bucket = `esm-${randomUUID()}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const m = mapping({
      topics: [t],
      functionName: name,
      retryAttempts: 0,
      bisectBatchOnFunctionError: true,
      onFailure: `arn:aws:s3:::${bucket}`,
    });
    await waitFor('commit', async () => (await committed(m.groupId, t))[0] === 4);
    const keys = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents!.map((c) => c.Key!);
    expect(keys).toHaveLength(1);
    const body = JSON.parse(
      await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[0] }))).Body!.transformToString(),
    );
    expect(body.KafkaBatchInfo.recordsInfo[`${t}-0`]).toMatchObject({ firstRecordOffset: '2', lastRecordOffset: '2' });
    expect(JSON.parse(body.payload).records[`${t}-0`].map((r: any) => r.offset)).toEqual([2]);
    expect(m.stats.recordsSentToOnFailure).toBe(1);
  });

  test('honours a partial batch response: retries from the lowest failed offset only', async () => {
    const t = await topic(1);
    await producer.send({ topic: t, messages: ['a', 'poison', 'c'].map((value) => ({ value })) });
    const name = await fn('partialPoison');
    const q = await queue();
    const m = mapping({ topics: [t], functionName: name, retryAttempts: 1, reportBatchItemFailures: true, onFailure: q.arn });
    const [rec] = await drain(q.url, 1);
    await waitFor('commit', async () => (await committed(m.groupId, t))[0] === 3);
    expect((await events(name)).map((e) => e.records[`${t}-0`].map((r: any) => r.offset))).toEqual([
      [0, 1, 2],
      [1, 2],
    ]);
    expect(rec.KafkaBatchInfo.recordsInfo[`${t}-0`]).toMatchObject({ firstRecordOffset: '1', lastRecordOffset: '2' });
  });

  test('a record over 6 MB goes to the on-failure topic as MaximumPayloadSizeExceeded (in-process handler)', async () => {
    const t = await topic(1, [{ name: 'max.message.bytes', value: String(8 * 1024 * 1024) }]);
    const big = kafka.producer();
    await big.connect();
    await big.send({
      topic: t,
      messages: [{ value: 'small' }, { value: Buffer.alloc(5 * 1024 * 1024, 97) }, { value: 'after' }],
    });
    await big.disconnect();
    const dest = await topic(1);
    const m = mapping({ topics: [t], handler: path.join(TARGETS, 'index.ok'), onFailure: `kafka://${dest}` });
    await waitFor('commit', async () => (await committed(m.groupId, t))[0] === 3);
    const got: any[] = [];
    const c = kafka.consumer({ groupId: `read-${randomUUID()}` });
    await c.connect();
    await c.subscribe({ topic: dest, fromBeginning: true });
    void c.run({
      eachMessage: async ({ message }) => {
        got.push(JSON.parse(message.value!.toString()));
      },
    });
    await waitFor('on-failure record', () => got.length === 1);
    await c.disconnect();
    expect(got[0]).toMatchObject({
      requestContext: { condition: 'MaximumPayloadSizeExceeded', approximateInvokeCount: 0 },
      responseContext: null,
      KafkaBatchInfo: { batchSize: 1, recordsInfo: { [`${t}-0`]: { firstRecordOffset: '1', lastRecordOffset: '1' } } },
    });
    expect(got[0].KafkaBatchInfo.payloadSize).toBeGreaterThan(6 * 1024 * 1024);
    expect(m.stats).toMatchObject({ invocations: 2, recordsCommitted: 3, recordsSentToOnFailure: 1 });
  });

  test('LATEST skips what was there; AT_TIMESTAMP starts at the first record at or after the time', async () => {
    const t = await topic(1);
    await producer.send({ topic: t, messages: [{ value: 'old' }] });
    await new Promise((r) => setTimeout(r, 50));
    const at = Date.now();
    await producer.send({ topic: t, messages: [{ value: 'mid' }] });
    const latestFn = await fn('ok');
    const latest = mapping({ topics: [t], functionName: latestFn, startingPosition: 'LATEST' });
    const atFn = await fn('ok');
    const atTs = mapping({ topics: [t], functionName: atFn, startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: at });
    await waitFor('AT_TIMESTAMP commit', async () => (await committed(atTs.groupId, t))[0] === 2);
    await waitFor('LATEST joined', async () => (await admin.describeGroups([latest.groupId])).groups[0].state === 'Stable');
    await producer.send({ topic: t, messages: [{ value: 'new' }] });
    await waitFor('LATEST commit', async () => (await committed(latest.groupId, t))[0] === 3);
    const values = async (name: string) =>
      (await events(name)).flatMap((e) => e.records[`${t}-0`].map((r: any) => Buffer.from(r.value, 'base64').toString()));
    expect(await values(latestFn)).toEqual(['new']);
    await waitFor('AT_TIMESTAMP saw new', async () => (await values(atFn)).length === 2);
    expect(await values(atFn)).toEqual(['mid', 'new']);
  });

  test('a batch that never succeeded is not committed: the next mapping of the group gets it again', async () => {
    const t = await topic(1);
    await producer.send({ topic: t, messages: [{ value: 'x' }] });
    const failing = await fn('fail');
    const groupId = `g-${randomUUID()}`;
    const first = mapping({ topics: [t], functionName: failing, consumerGroupId: groupId }); // retries forever (-1)
    await waitFor('two failed invocations', async () => (await events(failing)).length >= 2);
    await first.stop();
    expect((await committed(groupId, t))[0]).toBe(-1);
    const okFn = await fn('ok');
    const second = mapping({ topics: [t], functionName: okFn, consumerGroupId: groupId });
    await waitFor('commit', async () => (await committed(groupId, t))[0] === 1);
    // the emulator counts the commit once the broker has acknowledged it
    await waitFor('the second mapping counts the commit', () => second.stats.recordsCommitted === 1, 10_000);
    expect(second.stats.recordsCommitted).toBe(1);
  });

  test('an error kafkajs does not retry stops the mapping and is reported, not swallowed', async () => {
    // GIVEN a failing function and a log sink that breaks on the first failure line (an error inside the mapping)
    const t = await topic(1);
    await producer.send({ topic: t, messages: [{ value: 'x' }] });
    const name = await fn('fail');
    const lines: string[] = [];
    let fatal: Error | undefined;
    const m = mapping({
      topics: [t],
      functionName: name,
      log: (l) => {
        lines.push(l);
        if (l.startsWith('invoke of')) throw new TypeError('log sink broken');
      },
      onFatalError: (e) => {
        fatal = e;
      },
    });
    // WHEN the batch fails THEN the consumer's crash is logged and onFatalError gets the error
    await waitFor('the fatal error', () => fatal !== undefined);
    expect(fatal!.message).toContain('log sink broken');
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^consumer crashed: .*log sink broken/)]));
    // and nothing was committed: the next mapping of the group gets the record again
    expect((await committed(m.groupId, t))[0]).toBe(-1);
  });

  test('filters: only matching records are sent; the others are committed without an invocation', async () => {
    // GIVEN JSON and plain-text records, and filters for orders from the EU or text starting with "ping"
    const t = await topic(1);
    const values = [
      { type: 'order', region: 'eu' },
      { type: 'order', region: 'us' },
      'ping 1',
      { type: 'refund', region: 'eu' },
      'pong',
      { type: 'order', region: 'eu' },
      'noise',
    ];
    await producer.send({ topic: t, messages: values.map((v) => ({ value: typeof v === 'string' ? v : JSON.stringify(v) })) });
    const name = await fn('ok');
    // WHEN the mapping consumes them with the filters
    const m = mapping({
      topics: [t],
      functionName: name,
      filters: [JSON.stringify({ value: { type: ['order'], region: ['eu'] } }), JSON.stringify({ value: [{ prefix: 'ping' }] })],
    });
    // THEN every offset is committed (the trailing filtered-out record too)
    await waitFor('commit', async () => (await committed(m.groupId, t))[0] === 7);
    // and the function saw only the matching records, in order
    const sent = (await events(name)).flatMap((e) => e.records[`${t}-0`].map((r: any) => r.offset));
    expect(sent).toEqual([0, 2, 5]);
    await waitFor('the mapping counts the commit', () => m.stats.recordsCommitted === 7, 10_000);
    expect(m.stats).toMatchObject({ recordsCommitted: 7, recordsFiltered: 4 });
  });
});
