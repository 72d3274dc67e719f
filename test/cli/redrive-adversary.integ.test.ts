/**
 * Adversarial tests of cdk-kafka-lambda redrive against the real stand-ins (the broker, moto's SQS, the Lambda
 * emulator): malformed on-failure and error records, and two runs sharing one state file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel, Producer } from 'kafkajs';
import * as te from '../../testenv';
import { queueDepth as sqsDepth, runRedrive } from './redrive-support';
import { errorRecordMessage } from '../../runtime/kafka/error-records';
import { redriveExitStatus as exitStatus } from '../../cli/redrive/redrive';
import { waitFor } from './support';

jest.setTimeout(90_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');

describe('redrive, attacked', () => {
  const env = te.loadEnv();
  const sqs = new SQSClient(te.awsClientConfig('sqs'));
  const s3 = new S3Client({ ...te.awsClientConfig('s3'), forcePathStyle: true });
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const fns: te.RunningLambda[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redrive-adv-'));
  let producer: Producer;
  let target: string;

  beforeAll(async () => {
    producer = kafka.producer();
    await producer.connect();
    // Any function (not the dispatcher): answers {} to every event; the front records each invocation.
    target = `redrive-adv-ok-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: target, dir: TARGETS, handler: 'index.ok' }));
  });
  afterAll(async () => {
    await producer?.disconnect();
    sqs.destroy();
    s3.destroy();
    await Promise.all(fns.map((f) => f.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (source: string[], stateFile: string, extra: string[] = []) => runRedrive(target, source, stateFile, extra);

  /** Every record offset the target was given, "topic-partition@offset". */
  const delivered = async (): Promise<string[]> =>
    (await te.listInvocations(target)).flatMap((i) =>
      Object.values(JSON.parse(i.payload).records as Record<string, any[]>)
        .flat()
        .map((r) => `${r.topic}-${r.partition}@${r.offset}`),
    );

  async function topicWith(n: number): Promise<string> {
    const t = `redrive-adv-${randomUUID()}`;
    await te.createTopic(t, 1);
    await producer.send({
      topic: t,
      messages: Array.from({ length: n }, (_, i) => ({ partition: 0, key: `k${i}`, value: JSON.stringify({ n: i }) })),
    });
    return t;
  }

  async function queueWith(bodies: string[]): Promise<string> {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: `redrive-adv-${randomUUID()}` }))).QueueUrl!;
    for (const b of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: b }));
    return url;
  }

  const queueDepth = (url: string) => sqsDepth(sqs, url);

  const kafkaOnFailure = (recordsInfo: Record<string, unknown>) =>
    JSON.stringify({
      requestContext: { requestId: randomUUID(), condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KafkaBatchInfo: { batchSize: 3, bootstrapServers: env.kafka.bootstrap.plaintext, recordsInfo },
    });

  test('GIVEN on-failure records whose recordsInfo has no usable offsets (missing, not numbers, empty) WHEN redriven THEN no message is deleted and the run does not exit 0', async () => {
    // GIVEN three messages: offsets missing, offsets not numbers, recordsInfo empty (none names a record it could read)
    const t = await topicWith(3);
    const url = await queueWith([
      kafkaOnFailure({ [`${t}-0`]: { firstRecordTimestamp: new Date().toISOString() } }),
      kafkaOnFailure({ [`${t}-0`]: { firstRecordOffset: 'zero', lastRecordOffset: 'two' } }),
      kafkaOnFailure({}),
    ]);
    const before = (await delivered()).length;
    // WHEN redriven
    const r = await run(['--from-sqs', url], path.join(dir, `${t}.json`));
    // THEN nothing was sent, and the messages were not deleted as if all their records succeeded
    expect((await delivered()).slice(before)).toEqual([]);
    expect(await queueDepth(url)).toBe(3);
    // AND the run says so: each message named, and a non-zero exit status
    expect(r.err.join('\n')).toMatch(/sqs message .*left in the queue/);
    expect(exitStatus(r.summary)).toBe(1);
  });

  test('GIVEN an SQS message that is not an on-failure record WHEN redriven THEN it is left in the queue AND the exit status is not 0', async () => {
    // GIVEN a message whose body is not JSON, next to nothing else
    const url = await queueWith(['this is not an on-failure record']);
    // WHEN redriven
    const r = await run(['--from-sqs', url], path.join(dir, `${randomUUID()}.json`));
    // THEN it is named and left in the queue
    expect(r.err.join('\n')).toMatch(/sqs message .*: is not JSON; left in the queue/);
    await waitFor('the message visible again', async () => (await queueDepth(url)) === 1, 10_000);
    // AND the run does not report success: its message's records were not redriven
    expect(exitStatus(r.summary)).toBe(1);
  });

  test('GIVEN error records whose key or value is not JSON and holds record bytes WHEN redriven, and dry run THEN no output holds those bytes AND the exit status is not 0', async () => {
    // GIVEN an error topic with an error record whose key is a record's key, and one whose value is a record's value
    const errorTopic = `redrive-adv-errors-${randomUUID()}`;
    await te.createTopic(errorTopic, 1);
    const good = errorRecordMessage({
      topic: 'x',
      partition: 0,
      startOffset: 0,
      endOffset: 1,
      functionName: 'x',
      details: { statusCode: 200, functionError: 'Unhandled' },
      records: [],
    });
    await producer.send({
      topic: errorTopic,
      messages: [
        { key: 'pw:hunter2', value: good.value },
        { key: good.key, value: 'ssn 123456' },
      ],
    });
    const state = path.join(dir, `${errorTopic}.json`);
    // WHEN redriven, and as a dry run
    const r = await run(['--from-error-topic', errorTopic], state);
    const dry = await run(['--from-error-topic', errorTopic, '--dry-run'], state);
    // THEN no output holds the key's or the value's bytes
    const printed = [r.printed, dry.printed].join('\n');
    expect(printed).toMatch(/error record .*@0: .*skipped/);
    expect(printed).not.toContain('hunter2');
    expect(printed).not.toContain('123456');
    // AND the run does not report success: two error records' records were not redriven
    expect(exitStatus(r.summary)).toBe(1);
  });

  test('GIVEN an on-failure record over 100 partitions of a topic with a 240-character name, its records filling one invocation to just under 6 MB by their own size WHEN redriven with --batch-size 1000 THEN every record reaches the function once (the event, with its 100 partition keys, stays under the 6 MB limit)', async () => {
    // GIVEN 100 partitions, one record of ~46.8 KB each: the records' JSON sums to ~12 KB under 6 MB less the 1 KB the
    // batching reserves for the event, while the 100 "TOPIC-P":[...] keys add ~25 KB
    const t = `a${randomUUID().replace(/-/g, '')}`.padEnd(240, 'x');
    await te.createTopic(t, 100);
    const value = 'v'.repeat(46_794);
    await producer.send({ topic: t, messages: Array.from({ length: 100 }, (_, p) => ({ partition: p, key: 'k', value })) });
    const url = await queueWith([
      kafkaOnFailure(
        Object.fromEntries(
          Array.from({ length: 100 }, (_, p) => [`${t}-${p}`, { firstRecordOffset: '0', lastRecordOffset: '0' }]),
        ),
      ),
    ]);
    const before = (await delivered()).length;
    // WHEN redriven with a batch size that lets the 6 MB bound decide
    const r = await run(['--from-sqs', url], path.join(dir, `${randomUUID()}.json`), ['--batch-size', '1000']);
    // THEN every record reached the function once, in invocations it accepted
    expect(r.err.join('\n')).not.toMatch(/RequestTooLarge|RequestEntityTooLarge|413/);
    expect(r.summary).toMatchObject({ redriven: 100, failedAgain: 0 });
    expect(new Set((await delivered()).slice(before)).size).toBe(100);
    expect(await queueDepth(url)).toBe(0);
  });

  test('GIVEN an on-failure record over two partitions, one past retention WHEN redriven, twice THEN the live partition reaches the function once, the expired one is reported each time by coordinates, and the message stays', async () => {
    // GIVEN partition 0 (0..4) deleted below offset 5, partition 1 (0..4) intact
    const t = `redrive-adv-${randomUUID()}`;
    await te.createTopic(t, 2);
    for (const p of [0, 1])
      await producer.send({ topic: t, messages: Array.from({ length: 5 }, (_, i) => ({ partition: p, value: `{"n":${i}}` })) });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.fetchTopicMetadata({ topics: [t] });
      await admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: '5' }] });
      await waitFor('log start at 5', async () => (await admin.fetchTopicOffsets(t)).find((o) => o.partition === 0)!.low === '5');
    } finally {
      await admin.disconnect();
    }
    const url = await queueWith([
      kafkaOnFailure({
        [`${t}-0`]: { firstRecordOffset: '0', lastRecordOffset: '4' },
        [`${t}-1`]: { firstRecordOffset: '0', lastRecordOffset: '4' },
      }),
    ]);
    const state = path.join(dir, `${t}.json`);
    const before = (await delivered()).length;
    // WHEN redriven, twice
    const first = await run(['--from-sqs', url], state);
    const second = await run(['--from-sqs', url], state);
    // THEN partition 1 reached the function once; partition 0 is expired, named both times; the message stays
    expect((await delivered()).slice(before).sort()).toEqual([0, 1, 2, 3, 4].map((o) => `${t}-1@${o}`));
    expect(first.summary).toMatchObject({ redriven: 5, expired: 5 });
    expect(second.summary).toMatchObject({ redriven: 0, alreadyDone: 5, expired: 5 });
    for (const r of [first, second]) expect(r.err.join('\n')).toContain(`expired: ${t}-0@0..4 (5 records)`);
    expect([first, second].map((r) => exitStatus(r.summary))).toEqual([1, 1]);
    expect(await queueDepth(url)).toBe(1);
  });

  test('GIVEN a function that throttles WHEN redriven THEN a few 429s are retried and every record reaches it once; six in a row leave the batch failed again, its message in the queue, and the next run delivers it', async () => {
    // GIVEN 6 records and their on-failure record
    const t = await topicWith(6);
    const url = await queueWith([kafkaOnFailure({ [`${t}-0`]: { firstRecordOffset: '0', lastRecordOffset: '5' } })]);
    const state = path.join(dir, `${t}.json`);
    const before = (await delivered()).length;
    // WHEN the function answers 429 six times in a row (every attempt of the first batch)
    await te.throttleLambda(target, 6);
    const throttled = await run(['--from-sqs', url], state, ['--batch-size', '3']);
    // THEN that batch failed again, named with the throttle, and the message stays; the second batch went through
    expect(throttled.err.join('\n')).toMatch(
      new RegExp(`failed again: ${t}-0@0\\.\\.2 \\(3\\) .*TooManyRequestsException \\(status 429\\)`),
    );
    expect(throttled.summary).toMatchObject({ redriven: 3, failedAgain: 3 });
    expect(exitStatus(throttled.summary)).toBe(1);
    expect(await queueDepth(url)).toBe(1);
    // WHEN run again with two 429s on the way
    await te.throttleLambda(target, 2);
    const again = await run(['--from-sqs', url], state, ['--batch-size', '3']);
    // THEN the rest reached the function, each record once in all, and the message is gone
    expect(again.summary).toMatchObject({ redriven: 3, alreadyDone: 3, failedAgain: 0 });
    expect((await delivered()).slice(before).sort()).toEqual([0, 1, 2, 3, 4, 5].map((o) => `${t}-0@${o}`).sort());
    expect(await queueDepth(url)).toBe(0);
  });

  test('GIVEN an on-failure queue with a redrive policy (maxReceiveCount 1) WHEN a dry run looks at it and a run then redrives it THEN the dry run spends no receive and says why, and the records reach the function', async () => {
    // GIVEN a queue whose messages go to a dead-letter queue after 1 receive, holding one on-failure record
    const t = await topicWith(3);
    const dlq = await queueWith([]);
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    const url = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `redrive-adv-${randomUUID()}`,
          Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) },
        }),
      )
    ).QueueUrl!;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: kafkaOnFailure({ [`${t}-0`]: { firstRecordOffset: '0', lastRecordOffset: '2' } }),
      }),
    );
    const state = path.join(dir, `${t}.json`);
    const before = (await delivered()).length;
    // WHEN a dry run looks at it
    const dry = await run(['--from-sqs', url], state, ['--dry-run']);
    // THEN it read nothing, saying why and how many messages the queue holds
    expect(dry.summary).toMatchObject({ redriven: 0 });
    expect(dry.err.join('\n')).toContain(
      `not read in a dry run: its redrive policy moves a message to ${dlqArn} after 1 receive(s)`,
    );
    // WHEN a run redrives it
    const r = await run(['--from-sqs', url], state);
    // THEN the message was still there, its records reached the function, and its last allowed receive was named
    expect(r.summary).toMatchObject({ redriven: 3 });
    expect((await delivered()).slice(before)).toHaveLength(3);
    expect(r.err.join('\n')).toContain(`received 1 time(s), the queue's maxReceiveCount`);
  });

  test('GIVEN an S3 on-failure object carrying one record too big for any invocation (6.5 MB as base64) WHEN redriven THEN it is named as too large for the 6 MB limit, not as the function failing, and no invocation is tried', async () => {
    // GIVEN the object, its payload the event with the one record
    const b = `redrive-adv-${randomUUID().slice(0, 12)}`;
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const record = {
      topic: 'big',
      partition: 0,
      offset: 7,
      timestamp: Date.now(),
      timestampType: 'CREATE_TIME',
      key: null,
      value: Buffer.alloc(5_000_000, 1).toString('base64'),
      headers: [],
    };
    const payload = JSON.stringify({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: env.kafka.bootstrap.plaintext,
      records: { 'big-0': [record] },
    });
    const body = JSON.parse(kafkaOnFailure({ 'big-0': { firstRecordOffset: '7', lastRecordOffset: '7' } }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'aws/lambda/x', Body: JSON.stringify({ ...body, payload }) }));
    const calls = (await te.listInvocations(target)).length;
    // WHEN redriven
    const r = await run(['--from-s3', `s3://${b}`], path.join(dir, `${b}.json`));
    // THEN the record is named by coordinates as too large, counted as failed again, and the function not invoked
    expect(r.err.join('\n')).toMatch(/too large: big-0@7 \(1\).*6 MB/);
    expect(r.err.join('\n')).not.toContain('fix the function');
    expect(r.summary).toMatchObject({ redriven: 0, failedAgain: 1 });
    expect((await te.listInvocations(target)).length).toBe(calls);
  });

  test('GIVEN error records and a function with no idempotency WHEN two runs share one state file at once THEN each record reaches the function once', async () => {
    // GIVEN 20 records carried by one error record (no idempotency at the target: it counts what it was given)
    const t = await topicWith(20);
    const errorTopic = `redrive-adv-errors-${randomUUID()}`;
    await te.createTopic(errorTopic, 1);
    const m = errorRecordMessage({
      topic: t,
      partition: 0,
      startOffset: 0,
      endOffset: 20,
      functionName: 'x',
      details: { statusCode: 200, functionError: 'Unhandled' },
      records: Array.from({ length: 20 }, (_, i) => ({
        topic: t,
        partition: 0,
        offset: i,
        timestamp: Date.now(),
        timestampType: 'CREATE_TIME',
        key: Buffer.from(`k${i}`).toString('base64'),
        value: Buffer.from(JSON.stringify({ n: i })).toString('base64'),
        headers: [],
      })),
    });
    await producer.send({ topic: errorTopic, messages: [{ key: m.key, value: m.value, headers: m.headers }] });
    const state = path.join(dir, `${errorTopic}.json`);
    // WHEN two runs with the same state file start at once (an operator's second terminal, a retried CI job)
    const runs = await Promise.allSettled([
      run(['--from-error-topic', errorTopic], state, ['--batch-size', '2']),
      run(['--from-error-topic', errorTopic], state, ['--batch-size', '2']),
    ]);
    // THEN each record reached the function at most once: the second run waited or refused, it did not send them again
    const got = (await delivered()).filter((c) => c.startsWith(`${t}-`));
    expect(got.length).toBe(new Set(got).size);
    expect(new Set(got).size).toBe(20);
    expect(runs.some((x) => x.status === 'fulfilled')).toBe(true);
  });
});
