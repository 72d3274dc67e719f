/**
 * The dispatcher bundle (assets/dispatcher/index.js) under the Lambda emulator, invoked through the
 * Lambda API like the event source mapping invokes it, with its configuration in the environment as
 * the KafkaDispatcher construct writes it; targets under the emulator, DynamoDB Local, moto's Secrets
 * Manager and the real broker (SASL_SSL).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as te from '../../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import { createIdempotencyTable, invokeFunction, kafkaEvent, partitionSpecs, readTopic, messagesIn } from './support';

jest.setTimeout(120_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', '..', 'assets', 'dispatcher');

describe('dispatcher bundle under the Lambda emulator', () => {
  const env = te.loadEnv();
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const fns: te.RunningLambda[] = [];
  let tableName: string;
  let scramSecretArn: string;
  let caSecretArn: string;

  beforeAll(async () => {
    expect(fs.existsSync(path.join(DISPATCHER, 'index.js'))).toBe(true); // built by npm run build
    tableName = await createIdempotencyTable(dynamodb);
    scramSecretArn = (
      await secrets.send(
        new CreateSecretCommand({
          Name: `disp-scram-${randomUUID()}`,
          SecretString: JSON.stringify(env.kafka.scram['SCRAM-SHA-512']),
        }),
      )
    ).ARN!;
    caSecretArn = (
      await secrets.send(
        new CreateSecretCommand({
          Name: `disp-ca-${randomUUID()}`,
          SecretString: JSON.stringify({ certificate: env.certs.pem.caCert }),
        }),
      )
    ).ARN!;
  });
  afterAll(async () => {
    lambda.destroy();
    dynamodb.destroy();
    secrets.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });

  async function target(handler: string, extraEnv: Record<string, string> = {}): Promise<string> {
    const name = `t-${handler}-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: TARGETS, handler: `index.${handler}`, env: extraEnv }));
    return name;
  }

  interface Setup {
    target: string;
    onError?: DispatcherConfig['onError'];
    reportBatchItemFailures?: boolean;
    batchSize?: number;
    timeMarginMs?: number;
    responseTopic?: string;
    errorTopic?: string;
    secretArn?: string;
    timeoutSeconds?: number;
    /** Ask for the target's log tail for error records. */
    logTail?: boolean;
    /** Overrides of the relay configuration (e.g. another listener and auth). */
    relay?: Partial<NonNullable<DispatcherConfig['relay']>>;
  }

  async function dispatcher(s: Setup): Promise<te.RunningLambda> {
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
        includeTargetLogTail: s.logTail,
      },
      onError: s.onError ?? 'fail',
      reportBatchItemFailures: s.reportBatchItemFailures ?? false,
      timeMarginMs: s.timeMarginMs ?? 1_000,
      idempotency: { tableName, mode: 'batched', ttlSeconds: 3600, maxStoredResultBytes: 65536 },
      relay: {
        bootstrapServers: [env.kafka.bootstrap.saslSsl],
        auth: 'scram-sha-512',
        secretArn: s.secretArn ?? scramSecretArn,
        rootCaSecretArn: caSecretArn,
        tls: true,
        responseTopic: s.responseTopic,
        errorTopic: s.errorTopic,
        clientId: 'dispatcher-test',
        ...s.relay,
      },
    };
    const fn = await te.startLambda({
      name: `disp-${randomUUID().slice(0, 8)}`,
      dir: DISPATCHER,
      timeoutSeconds: s.timeoutSeconds ?? 30,
      env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(config), POWERTOOLS_SERVICE_NAME: 'dispatcher-test' },
    });
    fns.push(fn);
    return fn;
  }

  const invoke = (fn: te.RunningLambda, event: unknown) => invokeFunction(lambda, fn.name, event);

  const invokedOffsets = async (name: string) =>
    (await te.listInvocations(name)).map((i) =>
      JSON.parse(i.payload).map((e: any) => `${e.payload.topic}-${e.payload.partition}@${e.payload.offset}`),
    );

  const newTopic = async () => {
    const t = `disp-${randomUUID()}`;
    await te.createTopic(t, 1);
    return t;
  };

  test('an empty event answers { batchItemFailures: [] }', async () => {
    const fn = await dispatcher({ target: 'unused' });
    expect(await invoke(fn, {})).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await invoke(fn, { eventSource: 'SelfManagedKafka', records: {} })).toEqual({
      functionError: undefined,
      body: { batchItemFailures: [] },
    });
  });

  test('fails with DispatcherConfigError naming the variable when the configuration is missing or invalid', async () => {
    const missing = await te.startLambda({ name: `disp-noconf-${randomUUID().slice(0, 8)}`, dir: DISPATCHER });
    const invalid = await te.startLambda({
      name: `disp-badconf-${randomUUID().slice(0, 8)}`,
      dir: DISPATCHER,
      env: { [DISPATCHER_CONFIG_ENV]: '{"version":2}' },
    });
    fns.push(missing, invalid);
    const event = kafkaEvent(partitionSpecs('t', 0, 0, 1));
    expect(await invoke(missing, event)).toMatchObject({
      functionError: 'Unhandled',
      body: { errorType: 'DispatcherConfigError', errorMessage: expect.stringMatching(/CKL_DISPATCHER_CONFIG: is not set/) },
    });
    expect(await invoke(invalid, event)).toMatchObject({
      body: {
        errorType: 'DispatcherConfigError',
        errorMessage: expect.stringMatching(/config.target must be an object, got undefined/),
      },
    });
  });

  test("echo target: one invocation per partition, results relayed to the response topic with the Confluent connector's keys", async () => {
    // GIVEN two partitions of 3 and 2 records
    const name = await target('echo');
    const responseTopic = await newTopic();
    const fn = await dispatcher({ target: name, responseTopic });
    const event = kafkaEvent([...partitionSpecs('orders', 0, 10, 3), ...partitionSpecs('orders', 1, 20, 2)]);
    // WHEN dispatched
    const out = await invoke(fn, event);
    // THEN success, each partition invoked once with its records in order, results relayed
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect((await invokedOffsets(name)).sort()).toEqual([
      ['orders-0@10', 'orders-0@11', 'orders-0@12'],
      ['orders-1@20', 'orders-1@21'],
    ]);
    const relayed = await readTopic(te, responseTopic, 5);
    const byOffset = new Map(relayed.map((m) => [JSON.parse(m.key).offset, m]));
    expect(JSON.parse(byOffset.get(11)!.key)).toEqual({ topic: 'orders', partition: 0, offset: 11 });
    expect(JSON.parse(byOffset.get(11)!.value)).toMatchObject({
      topic: 'orders',
      partition: 0,
      offset: 11,
      result: { echo: { n: 11 }, key: 'k11' },
    });
    expect(byOffset.get(21)!.headers).toEqual({ 'source-topic': 'orders', 'source-partition': '1', 'source-offset': '21' });
  });

  test('fail: a retried batch invokes the target only for records not yet done, and each result is relayed once', async () => {
    // GIVEN partition 0 that succeeds and partition 1 whose second record makes the target fail
    const name = await target('failOn');
    const responseTopic = await newTopic();
    const fn = await dispatcher({ target: name, responseTopic, batchSize: 1 });
    const topic = `retry-${randomUUID().slice(0, 8)}`;
    const event = kafkaEvent([
      ...partitionSpecs(topic, 0, 0, 2),
      { topic, partition: 1, offset: 5, value: { n: 5 } },
      { topic, partition: 1, offset: 6, value: { fail: true } },
      { topic, partition: 1, offset: 7, value: { n: 7 } },
    ]);
    // WHEN dispatched THEN the dispatcher fails (the ESM retries) and offset 7 was not attempted
    const first = await invoke(fn, event);
    expect(first.functionError).toBe('Unhandled');
    expect(first.body).toMatchObject({ errorType: 'BatchFailedError' });
    expect(first.body.errorMessage).toMatch(new RegExp(`${topic}-1@6..6: the target answered with a Unhandled function error`));
    const firstCalls = (await invokedOffsets(name)).flat();
    expect(firstCalls.sort()).toEqual([`${topic}-0@0`, `${topic}-0@1`, `${topic}-1@5`, `${topic}-1@6`]);
    // WHEN the ESM retries the same batch
    const second = await invoke(fn, event);
    // THEN only the record that failed is invoked again (it fails again), done ones are skipped
    expect(second.functionError).toBe('Unhandled');
    expect((await invokedOffsets(name)).flat().slice(firstCalls.length)).toEqual([`${topic}-1@6`]);
    // AND the results of the done records, relayed by the first attempt, are on the response topic once
    const relayed = await readTopic(te, responseTopic, 3);
    expect(relayed.map((m) => JSON.parse(m.key).offset).sort()).toEqual([0, 1, 5]);
    expect(await messagesIn(te, responseTopic)).toBe(3);
    expect(JSON.parse(relayed.find((m) => JSON.parse(m.key).offset === 5)!.value)).toMatchObject({ result: { echo: { n: 5 } } });
    // AND the table keeps them per range: an item of ranges per partition and one of results per target invocation
    const { Items } = await dynamodb.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(id, :t)',
        ExpressionAttributeValues: { ':t': { S: topic } },
      }),
    );
    const ids = Items!.map((i) => i.id.S!);
    expect(ids.filter((id) => id === `${topic}#0` || id === `${topic}#1`)).toHaveLength(2);
    expect(ids.filter((id) => /#[0-9a-f]{8}#0$/.test(id))).toHaveLength(3);
    expect(ids).toHaveLength(5);
  });

  test('fail with ReportBatchItemFailures: answers the failed partition and offset instead of throwing', async () => {
    const name = await target('failOn');
    const fn = await dispatcher({ target: name, reportBatchItemFailures: true, batchSize: 1 });
    const topic = `pbr-${randomUUID().slice(0, 8)}`;
    const event = kafkaEvent([
      { topic, partition: 0, offset: 1, value: { n: 1 } },
      { topic, partition: 0, offset: 2, value: { fail: true } },
      { topic, partition: 3, offset: 9, value: { n: 9 } },
    ]);
    const out = await invoke(fn, event);
    expect(out).toEqual({
      functionError: undefined,
      body: { batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: 2 } }] },
    });
  });

  test("log: a failing target sends the Confluent connector's error records (with the records and the log tail asked for) to the error topic, continues, and is not invoked again on a retry", async () => {
    const name = await target('fail');
    const errorTopic = await newTopic();
    const fn = await dispatcher({ target: name, onError: 'log', errorTopic, logTail: true });
    const event = kafkaEvent(partitionSpecs(`log-${randomUUID().slice(0, 8)}`, 2, 40, 2));
    const out = await invoke(fn, event);
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    const [m] = await readTopic(te, errorTopic, 1);
    expect(JSON.parse(m.key)).toMatchObject({ partition: 2, startOffset: 40, endOffset: 42 });
    const value = JSON.parse(m.value);
    expect(value).toMatchObject({ functionName: name, statusCode: 200, functionError: 'Unhandled' });
    expect(JSON.parse(value.inputPayload)).toHaveLength(2);
    expect(JSON.parse(value.payload)).toMatchObject({ errorMessage: 'target failed on purpose' });
    expect(value.logResult).toContain('target failed on purpose');
    expect(Object.keys(value).sort()).toEqual([
      'executedVersion',
      'functionError',
      'functionName',
      'inputPayload',
      'logResult',
      'outcome',
      'payload',
      'records',
      'statusCode',
    ]);
    expect(value.outcome).toBe('failed');
    expect(value.records.map((r: any) => r.offset)).toEqual([40, 41]);
    expect(value.records[0].value).toBe(event.records[Object.keys(event.records)[0]][0].value);
    // WHEN the same batch comes again THEN the logged records are done
    await invoke(fn, event);
    expect(await te.listInvocations(name)).toHaveLength(1);
  });

  test('log: a record that is not valid base64 goes to the error topic naming its coordinates, the others are invoked', async () => {
    const name = await target('echo');
    const errorTopic = await newTopic();
    const fn = await dispatcher({ target: name, onError: 'log', errorTopic });
    const topic = `bad-${randomUUID().slice(0, 8)}`;
    const event = kafkaEvent(partitionSpecs(topic, 0, 0, 3));
    event.records[`${topic}-0`][1].value = 'not*base64';
    expect(await invoke(fn, event)).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    const [m] = await readTopic(te, errorTopic, 1);
    expect(JSON.parse(m.key)).toEqual({ topic, partition: 0, startOffset: 1, endOffset: 2 });
    expect(JSON.parse(m.value)).toMatchObject({ functionError: 'KafkaRecordDecodeError', statusCode: 0 });
    expect(JSON.parse(JSON.parse(m.value).payload).errorMessage).toMatch(new RegExp(`${topic}-0@1: value is not valid base64`));
    expect((await invokedOffsets(name)).flat()).toEqual([`${topic}-0@0`, `${topic}-0@2`]);
  });

  test('drop: a malformed response is counted as dropped and the batch succeeds', async () => {
    const name = await target('malformed');
    const fn = await dispatcher({ target: name, onError: 'drop' });
    const out = await invoke(fn, kafkaEvent(partitionSpecs(`drop-${randomUUID().slice(0, 8)}`, 0, 0, 3)));
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    const emf = fs
      .readFileSync(fn.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l.slice(l.indexOf('{'))));
    expect(emf.at(-1)).toMatchObject({
      RecordsIn: 3,
      RecordsInvoked: 3,
      RecordsDropped: 3,
      RecordsFailed: 0,
      service: 'dispatcher-test',
    });
  });

  test('stops starting work when the remaining time falls under the margin, and answers before its own timeout', async () => {
    // GIVEN a 4 s dispatcher with a 2.5 s margin and a target that needs 3 s per record
    const name = await target('slow', { SLOW_MS: '3000' });
    const fn = await dispatcher({
      target: name,
      batchSize: 1,
      timeMarginMs: 2_500,
      timeoutSeconds: 4,
      reportBatchItemFailures: true,
    });
    const topic = `slow-${randomUUID().slice(0, 8)}`;
    // WHEN 3 records arrive
    const started = Date.now();
    const out = await invoke(fn, kafkaEvent(partitionSpecs(topic, 0, 0, 3)));
    // THEN the dispatcher answers cleanly (no Lambda timeout) and asks for a retry from offset 0
    expect(out).toEqual({
      functionError: undefined,
      body: { batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: 0 } }] },
    });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  test('MSK-shaped event (string partition) relayed over mTLS with a PBES1-encrypted key', async () => {
    // GIVEN an mTLS client secret in the ESM's format and an aws:kafka event whose partition is "0"
    const name = await target('echo');
    const responseTopic = await newTopic();
    const mtlsSecretArn = (
      await secrets.send(
        new CreateSecretCommand({
          Name: `disp-mtls-${randomUUID()}`,
          SecretString: JSON.stringify({
            certificate: env.certs.pem.clientChain,
            privateKey: env.certs.pem.clientKeyPbes1,
            privateKeyPassword: env.certs.passwords.pbes1,
          }),
        }),
      )
    ).ARN!;
    const fn = await dispatcher({
      target: name,
      responseTopic,
      relay: { bootstrapServers: [env.kafka.bootstrap.ssl], auth: 'mtls', secretArn: mtlsSecretArn },
    });
    const topic = `msk-${randomUUID().slice(0, 8)}`;
    const event = kafkaEvent(partitionSpecs(topic, 0, 3, 2));
    event.eventSource = 'aws:kafka';
    event.eventSourceArn = 'arn:aws:kafka:us-east-1:123456789012:cluster/c/u';
    for (const r of event.records[`${topic}-0`]) r.partition = '0';
    // WHEN dispatched
    const out = await invoke(fn, event);
    // THEN the target saw numeric partitions and the results went to the response topic
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await invokedOffsets(name)).toEqual([[`${topic}-0@3`, `${topic}-0@4`]]);
    const relayed = await readTopic(te, responseTopic, 2);
    expect(relayed.map((m) => JSON.parse(m.key))).toEqual([
      { topic, partition: 0, offset: 3 },
      { topic, partition: 0, offset: 4 },
    ]);
  });

  test('a rotated SCRAM password is picked up by the running dispatcher without a cold start', async () => {
    // GIVEN a SCRAM user whose password was rotated on the broker while the secret still holds the old one
    const user = { username: `rot-${randomUUID().slice(0, 8)}`, password: 'old-password-1' };
    await te.setScramPassword({ ...user, password: 'new-password-2', mechanism: 'SCRAM-SHA-512' });
    const secretArn = (
      await secrets.send(new CreateSecretCommand({ Name: `rot-${randomUUID()}`, SecretString: JSON.stringify(user) }))
    ).ARN!;
    const name = await target('echo');
    const responseTopic = await newTopic();
    const fn = await dispatcher({ target: name, responseTopic, secretArn });
    const topic = `rot-${randomUUID().slice(0, 8)}`;
    const event = kafkaEvent(partitionSpecs(topic, 0, 0, 2));
    // WHEN a batch comes THEN relaying fails after reading the secret again once, and the ESM retries
    const stale = await invoke(fn, event);
    expect(stale.functionError).toBe('Unhandled');
    expect(stale.body.errorMessage).toMatch(/after reading the credentials again/);
    // WHEN the rotation finishes (secret updated) and the ESM retries, in the same container
    await secrets.send(
      new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify({ ...user, password: 'new-password-2' }) }),
    );
    const retried = await invoke(fn, event);
    // THEN it succeeds, relaying the result stored by the failed attempt without invoking the target again
    expect(retried).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await invokedOffsets(name)).toEqual([[`${topic}-0@0`, `${topic}-0@1`]]);
    const relayed = await readTopic(te, responseTopic, 2);
    expect(relayed.map((m) => JSON.parse(m.key).offset).sort()).toEqual([0, 1]);
    expect(fs.readFileSync(fn.logFile, 'utf8')).toContain('reading the credentials again');
  });
});
