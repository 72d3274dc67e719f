/**
 * One dispatcher, three targets: the dispatcher bundle under the Lambda emulator routes records by topic, header
 * and key prefix (config routes), each target with its own invocation type and response topic; records no route
 * takes go to the error topic on the real broker. Every record is accounted for from outside the dispatcher: the
 * Lambda front's invocation log and the topics.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as te from '../../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import { createIdempotencyTable, invokeFunction, kafkaEvent, readTopic, RecordSpec } from './support';

jest.setTimeout(180_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', '..', 'assets', 'dispatcher');

describe('routing to several targets', () => {
  const env = te.loadEnv();
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const fns: te.RunningLambda[] = [];

  afterAll(async () => {
    lambda.destroy();
    dynamodb.destroy();
    secrets.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });

  const start = async (prefix: string, dir: string, handler: string, extraEnv: Record<string, string> = {}) => {
    const fn = await te.startLambda({ name: `${prefix}-${randomUUID().slice(0, 8)}`, dir, handler, env: extraEnv });
    fns.push(fn);
    return fn;
  };
  const newTopic = async (partitions = 1) => {
    const t = `route-${randomUUID()}`;
    await te.createTopic(t, partitions);
    return t;
  };
  /** "topic-partition@offset" of every record each invocation of a target carried, in the order invoked. */
  const invoked = async (name: string) =>
    (await te.listInvocations(name)).map((i) =>
      JSON.parse(i.payload).map((e: any) => `${e.payload.topic}-${e.payload.partition}@${e.payload.offset}`),
    );

  test('GIVEN routes by topic, by header and by key prefix and no default target WHEN an event mixes them THEN each target gets exactly its records in offset order, each response topic its results, and the rest the error topic', async () => {
    // GIVEN three targets: orders (sync), refunds (sync, first of the two payments routes) and VIPs (async)
    const [orders, refunds, vips] = await Promise.all([
      start('t-orders', TARGETS, 'index.echo'),
      start('t-refunds', TARGETS, 'index.echo'),
      start('t-vips', TARGETS, 'index.echo'),
    ]);
    const [ordersTopic, paymentsTopic, orderResults, refundResults, errorTopic] = await Promise.all([
      newTopic(2),
      newTopic(),
      newTopic(),
      newTopic(),
      newTopic(),
    ]);
    const scramSecretArn = (
      await secrets.send(
        new CreateSecretCommand({
          Name: `route-scram-${randomUUID()}`,
          SecretString: JSON.stringify(env.kafka.scram['SCRAM-SHA-512']),
        }),
      )
    ).ARN!;
    const caSecretArn = (
      await secrets.send(
        new CreateSecretCommand({
          Name: `route-ca-${randomUUID()}`,
          SecretString: JSON.stringify({ certificate: env.certs.pem.caCert }),
        }),
      )
    ).ARN!;
    const config: DispatcherConfig = {
      version: 2,
      target: {
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: 100,
        concurrency: 4,
        maxAttempts: 3,
        baseDelayMs: 20,
        maxDelayMs: 200,
      },
      routes: [
        {
          match: { topics: [ordersTopic] },
          functionName: orders.arn,
          invocationType: 'RequestResponse',
          payloadFormat: 'confluent',
          responseTopic: orderResults,
        },
        {
          match: { topics: [paymentsTopic], header: { name: 'type', value: 'refund' } },
          functionName: refunds.name,
          invocationType: 'RequestResponse',
          payloadFormat: 'confluent',
          responseTopic: refundResults,
        },
        {
          match: { topics: [paymentsTopic], keyPrefix: 'vip-' },
          functionName: vips.name,
          invocationType: 'Event',
          payloadFormat: 'confluent',
        },
      ],
      onError: 'log',
      reportBatchItemFailures: false,
      timeMarginMs: 1_000,
      idempotency: {
        tableName: await createIdempotencyTable(dynamodb),
        mode: 'batched',
        ttlSeconds: 3600,
        maxStoredResultBytes: 65536,
      },
      relay: {
        bootstrapServers: [env.kafka.bootstrap.saslSsl],
        auth: 'scram-sha-512',
        secretArn: scramSecretArn,
        rootCaSecretArn: caSecretArn,
        tls: true,
        errorTopic,
        clientId: 'routing-test',
      },
    };
    const dispatcher = await start('disp-route', DISPATCHER, 'index.handler', {
      [DISPATCHER_CONFIG_ENV]: JSON.stringify(config),
    });
    // Orders: two partitions of 10. Payments: 30 records; i % 3 == 0 a refund (offset 0 also has a VIP key: the
    // first route that takes it wins), 1 a VIP, 2 neither.
    const orderSpecs: RecordSpec[] = [0, 1].flatMap((p) =>
      Array.from({ length: 10 }, (_, i) => ({ topic: ordersTopic, partition: p, offset: i, key: `o${i}`, value: { n: i } })),
    );
    const paymentSpecs: RecordSpec[] = Array.from({ length: 30 }, (_, i) => ({
      topic: paymentsTopic,
      partition: 0,
      offset: 100 + i,
      key: i % 3 === 1 || i === 0 ? `vip-${i}` : `k${i}`,
      value: { n: i },
      headers: i % 3 === 0 ? { type: 'refund' } : { type: 'charge' },
    }));
    const at = (s: RecordSpec) => `${s.topic}-${s.partition}@${s.offset}`;

    // WHEN one event carries them all
    const out = await invokeFunction(lambda, dispatcher.name, kafkaEvent([...orderSpecs, ...paymentSpecs]));

    // THEN the event succeeded
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    // AND each target got exactly its records, in offset order per partition
    const expectOrders = orderSpecs.map(at);
    const expectRefunds = paymentSpecs.filter((_, i) => i % 3 === 0).map(at);
    const expectVips = paymentSpecs.filter((_, i) => i % 3 === 1).map(at);
    const unrouted = paymentSpecs.filter((_, i) => i % 3 === 2).map(at);
    const ordersGot = (await invoked(orders.name)).flat();
    for (const p of [0, 1])
      expect(ordersGot.filter((r) => r.startsWith(`${ordersTopic}-${p}@`))).toEqual(
        expectOrders.filter((r) => r.startsWith(`${ordersTopic}-${p}@`)),
      );
    expect((await invoked(refunds.name)).flat()).toEqual(expectRefunds);
    const vipCalls = await te.listInvocations(vips.name);
    expect(vipCalls.every((c) => c.type === 'Event')).toBe(true);
    expect(
      vipCalls.flatMap((c) =>
        JSON.parse(c.payload).map((e: any) => `${e.payload.topic}-${e.payload.partition}@${e.payload.offset}`),
      ),
    ).toEqual(expectVips);
    // AND each sync target's results are on its own response topic
    const keysOf = (messages: { key: string }[]) =>
      messages
        .map((m) => {
          const k = JSON.parse(m.key);
          return `${k.topic}-${k.partition}@${k.offset}`;
        })
        .sort();
    expect(keysOf(await readTopic(te, orderResults, 20))).toEqual([...expectOrders].sort());
    expect(keysOf(await readTopic(te, refundResults, 10))).toEqual([...expectRefunds].sort());
    // AND the records no route takes are on the error topic, one error record each, naming the error
    const errors = await readTopic(te, errorTopic, 10);
    expect(
      errors
        .map((m) => {
          const k = JSON.parse(m.key);
          return `${k.topic}-${k.partition}@${k.startOffset}`;
        })
        .sort(),
    ).toEqual([...unrouted].sort());
    expect(errors.every((m) => JSON.parse(m.value).functionError === 'UnroutedRecordError')).toBe(true);
    // AND nothing is lost or doubled: every record went to exactly one of the four places
    const placed = [...ordersGot, ...expectRefunds, ...expectVips, ...unrouted];
    expect(new Set(placed).size).toBe(orderSpecs.length + paymentSpecs.length);

    // WHEN the same event is delivered again THEN no target is invoked again (idempotency holds across routes)
    const before = [orders, refunds, vips].map(async (f) => (await te.listInvocations(f.name)).length);
    const counts = await Promise.all(before);
    expect(await invokeFunction(lambda, dispatcher.name, kafkaEvent([...orderSpecs, ...paymentSpecs]))).toEqual({
      functionError: undefined,
      body: { batchItemFailures: [] },
    });
    expect(await Promise.all([orders, refunds, vips].map(async (f) => (await te.listInvocations(f.name)).length))).toEqual(
      counts,
    );
  });
});
