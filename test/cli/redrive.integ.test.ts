/**
 * cdk-kafka-lambda redrive against the real stand-ins: records on the real broker, on-failure records in moto's SQS,
 * error records on an error topic, the dispatcher bundle under the Lambda emulator with DynamoDB Local for its
 * idempotency, and its target counting what it was given (the Lambda front's record of its invocations).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { Admin, Kafka, logLevel, Producer } from 'kafkajs';
import * as te from '../../testenv';
import { queueDepth as sqsDepth, runRedrive } from './redrive-support';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import { errorRecordMessage, TruncatedRecord } from '../../runtime/kafka/error-records';
import { hideWhileRunning } from '../../cli/redrive/sources';
import { createIdempotencyTable } from '../runtime/support';
import { startLocalMapping, waitFor } from './support';
import type { LocalEventSourceMapping } from '../../cli/kafka/esm';

jest.setTimeout(90_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', '..', 'assets', 'dispatcher');

describe('cdk-kafka-lambda redrive', () => {
  const env = te.loadEnv();
  const sqs = new SQSClient(te.awsClientConfig('sqs'));
  const sns = new SNSClient(te.awsClientConfig('sns'));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const fns: te.RunningLambda[] = [];
  const mappings: LocalEventSourceMapping[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redrive-'));
  let producer: Producer;
  let admin: Admin;
  let target: string;
  let dispatcherName: string;
  let failing: string;

  beforeAll(async () => {
    expect(fs.existsSync(path.join(DISPATCHER, 'index.js'))).toBe(true); // built by npm run build
    producer = kafka.producer();
    admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
    // The fixed target: answers every record; the front records each invocation.
    target = `redrive-target-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: target, dir: TARGETS, handler: 'index.echo' }));
    // The target before the fix: fails every batch.
    failing = `redrive-failing-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: failing, dir: TARGETS, handler: 'index.fail' }));
    dispatcherName = await startDispatcher(target);
  });
  afterAll(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    await Promise.all([producer?.disconnect(), admin?.disconnect()]);
    sqs.destroy();
    sns.destroy();
    dynamodb.destroy();
    await Promise.all(fns.map((f) => f.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The dispatcher bundle under the emulator, invoking `targetName` (confluent payload), with its own idempotency table. */
  async function startDispatcher(targetName: string, errorTopic?: string): Promise<string> {
    const config: DispatcherConfig = {
      version: 2,
      target: {
        functionName: targetName,
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: 100,
        concurrency: 4,
        maxAttempts: 2,
        baseDelayMs: 20,
        maxDelayMs: 200,
      },
      onError: errorTopic ? 'log' : 'fail',
      reportBatchItemFailures: false,
      timeMarginMs: 1_000,
      idempotency: {
        tableName: await createIdempotencyTable(dynamodb),
        mode: 'batched',
        ttlSeconds: 3600,
        maxStoredResultBytes: 65536,
      },
      relay: errorTopic
        ? { bootstrapServers: [env.kafka.bootstrap.plaintext], auth: 'none', tls: false, errorTopic, clientId: 'redrive-test' }
        : undefined,
    };
    const name = `redrive-disp-${randomUUID().slice(0, 8)}`;
    fns.push(
      await te.startLambda({
        name,
        dir: DISPATCHER,
        timeoutSeconds: 30,
        env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(config), POWERTOOLS_SERVICE_NAME: 'redrive-test' },
      }),
    );
    return name;
  }

  /** Every record offset the target was given, "topic-partition@offset", in invocation order. */
  const delivered = async (name = target): Promise<string[]> =>
    (await te.listInvocations(name)).flatMap((i) =>
      JSON.parse(i.payload).map((e: any) => `${e.payload.topic}-${e.payload.partition}@${e.payload.offset}`),
    );
  const dispatcherCalls = async () => (await te.listInvocations(dispatcherName)).length;

  const run = (source: string[], stateFile: string, extra: string[] = []) => runRedrive(dispatcherName, source, stateFile, extra);

  async function topicWith(partitions: number[], perPartition: number): Promise<string> {
    const t = `redrive-${randomUUID()}`;
    await te.createTopic(t, partitions.length);
    for (const p of partitions)
      await producer.send({
        topic: t,
        messages: Array.from({ length: perPartition }, (_, i) => ({
          partition: p,
          key: `k${i}`,
          value: JSON.stringify({ n: i }),
        })),
      });
    return t;
  }

  async function queue(): Promise<string> {
    return (await sqs.send(new CreateQueueCommand({ QueueName: `redrive-${randomUUID()}` }))).QueueUrl!;
  }

  /** The on-failure record the local mapping (and Lambda) writes for a batch. */
  function onFailureRecord(ranges: Record<string, [number, number]>) {
    const at = new Date().toISOString();
    return JSON.stringify({
      requestContext: {
        requestId: randomUUID(),
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:x',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: at,
      KafkaBatchInfo: {
        batchSize: Object.values(ranges).reduce((n, [a, b]) => n + b - a + 1, 0),
        bootstrapServers: env.kafka.bootstrap.plaintext,
        payloadSize: 1000,
        recordsInfo: Object.fromEntries(
          Object.entries(ranges).map(([k, [a, b]]) => [
            k,
            { firstRecordOffset: String(a), lastRecordOffset: String(b), firstRecordTimestamp: at, lastRecordTimestamp: at },
          ]),
        ),
      },
    });
  }

  const queueDepth = (url: string) => sqsDepth(sqs, url);

  const offsets = (t: string, p: number, from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => `${t}-${p}@${from + i}`);

  test('from SQS on-failure records: every record reaches the target once, the messages are deleted, a second run delivers none', async () => {
    // GIVEN 10 records on partition 0 and 5 on partition 1, and two on-failure records naming them in the queue
    const t = await topicWith([0, 1], 10);
    const url = await queue();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: onFailureRecord({ [`${t}-0`]: [0, 5] }) }));
    await sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: onFailureRecord({ [`${t}-0`]: [6, 9], [`${t}-1`]: [0, 4] }) }),
    );
    const state = path.join(dir, `${t}.json`);
    const before = (await delivered()).length;

    // WHEN a dry run lists them
    const dry = await run(['--from-sqs', url], state, ['--dry-run']);
    // THEN it names coordinates only, sends nothing and leaves both messages in the queue
    expect(dry.out.join('\n')).toContain(`${t}-0@0..5 (6 records)`);
    expect(dry.out.join('\n')).toContain(`${t}-1@0..4 (5 records)`);
    expect(dry.out.join('\n')).not.toContain('eyJ'); // no base64 record values
    expect(dry.summary).toMatchObject({ redriven: 15, expired: 0 });
    expect(await dispatcherCalls()).toBe(0);
    await waitFor('messages visible again', async () => (await queueDepth(url)) === 2);

    // WHEN they are redriven to a function that still fails
    const broken = await run(['--from-sqs', url], state, ['--function-name', failing]);
    // THEN every record failed again, named by coordinates with the fix, and both messages stay in the queue
    expect(broken.summary).toMatchObject({ redriven: 0, failedAgain: 15 });
    expect(broken.err.join('\n')).toContain(`failed again: ${t}-0@0..5 (6) sent to function ${failing}: Unhandled`);
    expect(broken.err.join('\n')).toContain('fix the function');
    await waitFor('messages visible again', async () => (await queueDepth(url)) === 2);

    // WHEN the records are redriven through the dispatcher to the fixed target
    const first = await run(['--from-sqs', url], state, ['--batch-size', '4']);
    // THEN each record reached the target exactly once and both messages are gone
    expect(first.summary).toEqual({ redriven: 15, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    const got = (await delivered()).slice(before);
    expect([...got].sort()).toEqual([...offsets(t, 0, 0, 9), ...offsets(t, 1, 0, 4)].sort());
    expect(await queueDepth(url)).toBe(0);
    expect(first.out).toEqual(['redrive: redriven 15, already done 0, failed again 0, expired 0']);

    // WHEN the same on-failure record arrives again: once with the state file, once without it
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: onFailureRecord({ [`${t}-0`]: [0, 5] }) }));
    const calls = await dispatcherCalls();
    const again = await run(['--from-sqs', url], state);
    // THEN the state file says they are done: the dispatcher is not even invoked
    expect(again.summary).toMatchObject({ redriven: 0, alreadyDone: 6 });
    expect(await dispatcherCalls()).toBe(calls);
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: onFailureRecord({ [`${t}-0`]: [0, 5] }) }));
    const fresh = await run(['--from-sqs', url], path.join(dir, `${t}-fresh.json`));
    // AND with a new state file the dispatcher's idempotency keeps the target from running them twice
    expect(fresh.summary).toMatchObject({ redriven: 0, alreadyDone: 6, failedAgain: 0 });
    expect(await dispatcherCalls()).toBeGreaterThan(calls);
    expect((await delivered()).slice(before)).toHaveLength(15);
    expect(await queueDepth(url)).toBe(0);
  });

  test('from the error topic: carried and truncated records reach the target once, a second run delivers none', async () => {
    // GIVEN 6 records, and two error records: one carrying offsets 0-2 with their bytes, one truncated (3-5)
    const t = await topicWith([0], 6);
    const errorTopic = `redrive-errors-${randomUUID()}`;
    await te.createTopic(errorTopic, 1);
    const carried = [0, 1, 2].map((i) => ({
      topic: t,
      partition: 0,
      offset: i,
      timestamp: Date.now(),
      timestampType: 'CREATE_TIME',
      key: Buffer.from(`k${i}`).toString('base64'),
      value: Buffer.from(JSON.stringify({ n: i })).toString('base64'),
      headers: [],
    }));
    const details = { statusCode: 200, functionError: 'Unhandled' };
    const full = errorRecordMessage({
      topic: t,
      partition: 0,
      startOffset: 0,
      endOffset: 3,
      functionName: 'x',
      details,
      records: carried,
    });
    const truncated = errorRecordMessage({
      topic: t,
      partition: 0,
      startOffset: 3,
      endOffset: 6,
      functionName: 'x',
      details,
      records: [3, 4, 5].map((o) => new TruncatedRecord(t, 0, o, { ...carried[0], offset: o })),
    });
    expect(JSON.parse(truncated.value).truncated).toBe(true);
    await producer.send({
      topic: errorTopic,
      messages: [full, truncated].map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
    });
    const state = path.join(dir, `${errorTopic}.json`);
    const before = (await delivered()).length;

    // WHEN they are redriven through the dispatcher
    const first = await run(['--from-error-topic', errorTopic], state);
    // THEN each record reached the target once, the carried ones with the bytes they carried
    expect(first.summary).toEqual({ redriven: 6, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await delivered()).slice(before)].sort()).toEqual(offsets(t, 0, 0, 5));
    const values = (await te.listInvocations(target))
      .flatMap((i) => JSON.parse(i.payload))
      .filter((e: any) => e.payload.topic === t)
      .map((e: any) => e.payload.value);
    expect(values).toEqual(expect.arrayContaining([{ n: 0 }, { n: 5 }]));

    // WHEN redriven again, with the state file and with a fresh one
    const calls = await dispatcherCalls();
    const again = await run(['--from-error-topic', errorTopic], state);
    const fresh = await run(['--from-error-topic', errorTopic], path.join(dir, `${errorTopic}-fresh.json`));
    // THEN nothing more reaches the target: the state file, then the dispatcher's idempotency
    expect(again.summary).toMatchObject({ redriven: 0, alreadyDone: 6 });
    expect(fresh.summary).toMatchObject({ redriven: 0, alreadyDone: 6, failedAgain: 0 });
    expect(await dispatcherCalls()).toBeGreaterThan(calls);
    expect((await delivered()).slice(before)).toHaveLength(6);
    // AND no output of the three runs, nor of a dry run, holds a record's key or value
    const dry = await run(['--from-error-topic', errorTopic, '--dry-run'], path.join(dir, `${errorTopic}-dry.json`));
    const printed = [first, again, fresh, dry].flatMap((r) => [...r.out, ...r.err]).join('\n');
    expect(dry.out.join('\n')).toContain(`${t}-0@0`);
    for (const c of carried) {
      expect(printed).not.toContain(c.value);
      expect(printed).not.toContain(c.key);
    }
    expect(printed).not.toContain('{"n":');
  });

  test('records past retention are reported as expired by coordinates, and their message stays in the queue', async () => {
    // GIVEN 10 records of which offsets 0-4 were deleted (the log start moved to 5), and an on-failure record for 0-9
    const t = await topicWith([0], 10);
    await admin.fetchTopicMetadata({ topics: [t] }); // deleteTopicRecords finds the leader in the loaded metadata
    await admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: '5' }] });
    await waitFor('log start at 5', async () => (await admin.fetchTopicOffsets(t))[0].low === '5');
    const url = await queue();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: onFailureRecord({ [`${t}-0`]: [0, 9] }) }));
    const before = (await delivered()).length;

    // WHEN redriven
    const r = await run(['--from-sqs', url], path.join(dir, `${t}.json`));
    // THEN the 5 records still in the topic are delivered, the 5 others reported as expired, never skipped silently
    expect(r.summary).toEqual({ redriven: 5, alreadyDone: 0, failedAgain: 0, expired: 5, unreadable: 0 });
    expect([...(await delivered()).slice(before)].sort()).toEqual(offsets(t, 0, 5, 9));
    expect(r.err.join('\n')).toMatch(
      new RegExp(`expired: ${t}-0@0\\.\\.4 \\(5 records\\) of sqs message .* past the topic's retention`),
    );
    expect(r.out).toEqual(['redrive: redriven 5, already done 0, failed again 0, expired 5']);
    await waitFor('the message visible again', async () => (await queueDepth(url)) === 1);
  });

  test('a poison batch the local mapping sent to its SQS on-failure destination is redriven once the target is fixed', async () => {
    // GIVEN the local mapping invoking the failing function with no retries and an SQS on-failure destination
    const t = await topicWith([0], 3);
    const url = await queue();
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    const m = startLocalMapping(mappings, { topics: [t], functionName: failing, retryAttempts: 0, onFailure: arn });
    await waitFor('the on-failure record', async () => m.stats.recordsSentToOnFailure === 3);
    await m.stop();
    expect(await queueDepth(url)).toBe(1);
    const before = (await delivered()).length;

    // WHEN the batch is redriven through the dispatcher to the fixed target
    const r = await run(['--from-sqs', url], path.join(dir, `${t}.json`));
    // THEN its 3 records reached the target once and the message is deleted
    expect(r.summary).toEqual({ redriven: 3, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await delivered()).slice(before)].sort()).toEqual(offsets(t, 0, 0, 2));
    expect(await queueDepth(url)).toBe(0);
  });

  test('a poison batch the local mapping published to its SNS on-failure destination (a queue subscribed) is redriven once', async () => {
    // GIVEN the local mapping invoking the failing function with no retries and an SNS topic a queue subscribes to
    const t = await topicWith([0, 1], 2);
    const url = await queue();
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: `redrive-${randomUUID().slice(0, 8)}` }))).TopicArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
    const m = startLocalMapping(mappings, { topics: [t], functionName: failing, retryAttempts: 0, onFailure: topicArn });
    await waitFor('the on-failure records', async () => m.stats.recordsSentToOnFailure === 4);
    await m.stop();
    await waitFor('the notifications in the queue', async () => (await queueDepth(url)) >= 1);
    const before = (await delivered()).length;

    // WHEN redriven through the dispatcher to the fixed target, twice
    const first = await run(['--from-sqs', url], path.join(dir, `${t}.json`));
    const second = await run(['--from-sqs', url], path.join(dir, `${t}.json`));
    // THEN the 4 records reached the target once, the notifications are deleted, and the second run found nothing
    expect(first.summary).toEqual({ redriven: 4, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await delivered()).slice(before)].sort()).toEqual([...offsets(t, 0, 0, 1), ...offsets(t, 1, 0, 1)].sort());
    expect(await queueDepth(url)).toBe(0);
    expect(second.summary).toEqual({ redriven: 0, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
  });

  test('through the dispatcher that failed them: on-failure and logged records reach the fixed target once; a logged one failing again stays redrivable', async () => {
    // GIVEN a target that fails, one dispatcher failing its batches (the mapping then writes to SQS) and one logging
    // them to an error topic, each fed by the local mapping
    const fixed = `redrive-fixed-${randomUUID().slice(0, 8)}`;
    const broken = await te.startLambda({ name: fixed, dir: TARGETS, handler: 'index.fail' });
    const errorTopic = `redrive-errors-${randomUUID()}`;
    await te.createTopic(errorTopic, 1);
    const [failDispatcher, logDispatcher] = [await startDispatcher(fixed), await startDispatcher(fixed, errorTopic)];
    const [t1, t2] = [await topicWith([0], 3), await topicWith([0], 3)];
    const url = await queue();
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    const m1 = startLocalMapping(mappings, { topics: [t1], functionName: failDispatcher, retryAttempts: 0, onFailure: arn });
    const m2 = startLocalMapping(mappings, { topics: [t2], functionName: logDispatcher });
    await waitFor('the on-failure record', async () => m1.stats.recordsSentToOnFailure === 3);
    await waitFor('the error records', async () => m2.stats.recordsCommitted === 3);
    await Promise.all([m1.stop(), m2.stop()]);
    expect(Number((await admin.fetchTopicOffsets(errorTopic))[0].high)).toBeGreaterThan(0);
    // WHEN the error topic is redriven before the fix
    const early = await run(['--from-error-topic', errorTopic], path.join(dir, `${t2}-early.json`), [
      '--function-name',
      logDispatcher,
    ]);
    // THEN the dispatcher ran them again and logged them again: failed again, named, and nothing in the state file
    expect(early.summary).toEqual({ redriven: 0, alreadyDone: 0, failedAgain: 3, expired: 0, unreadable: 0 });
    expect(early.err.join('\n')).toContain(
      `failed again: 3 of ${t2}-0@0..2 (3) took the error path of function ${logDispatcher}`,
    );
    expect(JSON.parse(fs.readFileSync(path.join(dir, `${t2}-early.json`), 'utf8')).done).toEqual([]);
    // WHEN the target is fixed (the same name, now answering) and both are redriven through their dispatcher
    await broken.stop();
    fns.push(await te.startLambda({ name: fixed, dir: TARGETS, handler: 'index.echo' }));
    const before = (await delivered(fixed)).length;
    const fromSqs = await run(['--from-sqs', url], path.join(dir, `${t1}.json`), ['--function-name', failDispatcher]);
    const fromErrors = await run(['--from-error-topic', errorTopic], path.join(dir, `${t2}.json`), [
      '--function-name',
      logDispatcher,
    ]);
    // THEN the target ran each on-failure record once, and the message is deleted
    expect(fromSqs.summary).toEqual({ redriven: 3, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect(await queueDepth(url)).toBe(0);
    // AND each record the dispatcher logged (now twice in its error topic) ran once: the redrive's marker runs the
    // failures its idempotency held as done
    expect(fromErrors.summary).toEqual({ redriven: 3, alreadyDone: 3, failedAgain: 0, expired: 0, unreadable: 0 });
    expect([...(await delivered(fixed)).slice(before)].sort()).toEqual([...offsets(t1, 0, 0, 2), ...offsets(t2, 0, 0, 2)].sort());
    // WHEN the error topic is redriven again with a new state file
    const again = await run(['--from-error-topic', errorTopic], path.join(dir, `${t2}-again.json`), [
      '--function-name',
      logDispatcher,
    ]);
    // THEN the dispatcher ran none of them again
    expect(again.summary).toMatchObject({ redriven: 0, alreadyDone: 6, failedAgain: 0 });
    expect((await delivered(fixed)).length - before).toBe(6);
  });
});

describe('redrive: SQS messages stay hidden while a run lasts', () => {
  const sqs = new SQSClient(te.awsClientConfig('sqs'));
  afterAll(() => sqs.destroy());

  test('a message received for 3 s stays hidden past them while the run renews its visibility, and shows once it stops', async () => {
    // GIVEN a message received with a visibility timeout of 3 s
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: `redrive-hide-${randomUUID()}` }))).QueueUrl!;
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '{}' }));
    const [m] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 3, WaitTimeSeconds: 1 })))
      .Messages!;
    const received = Date.now();
    // WHEN the run renews the visibility of its messages every 100 ms
    let renewals = 0;
    const hide = hideWhileRunning(
      new Map([[m.MessageId!, m.ReceiptHandle!]]),
      async (entries) => {
        renewals++;
        return sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: entries }));
      },
      100,
    );
    await waitFor('the first 3 s to pass', async () => Date.now() - received > 4_000 && renewals > 0);
    // THEN the message is still hidden
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }))).Messages ?? []).toEqual([]);
    // AND once the run stops renewing and hands it back, it shows again
    hide.stop();
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
    await waitFor(
      'the message again',
      async () => ((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages ?? []).length === 1,
    );
  });
});
