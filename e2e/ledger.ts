/**
 * The end-to-end fault ledger: N records → local event source mapping → dispatcher (Lambda emulator)
 * → target (Lambda emulator) → response/error topics, idempotency in DynamoDB Local, secrets and the
 * on-failure queue on moto. One fault per scenario; the ledger accounts for every produced record.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig, IDEMPOTENCY_PARTITION_KEY } from '../lib/private/dispatcher-config';
import { LocalEventSourceMapping } from '../local/esm';

/** Every scenario the ledger implements; each can be run by name with `npm run e2e -- NAME`. */
export const ALL_SCENARIOS = ['baseline', 'broker-restart', 'dynamodb-restart', 'target-throttling', 'target-timeout', 'poison-log', 'poison-fail', 'scram-rotation', 'dispatcher-killed'] as const;
export type ScenarioName = typeof ALL_SCENARIOS[number];
/**
 * Scenarios that stop a service run in a private environment (its own Kafka, DynamoDB Local, moto and Lambda front,
 * stopped by a watchdog if this process dies), so restarting a service never disturbs suites using the shared one.
 */
const PRIVATE: ScenarioName[] = ['broker-restart', 'dynamodb-restart'];
/**
 * The scenarios of the ledger and of `npm test`: all of them. In broker-restart the emulator's consumer and the
 * relay's producer reconnect to the broker on its old ports and the batches that failed meanwhile are retried; in
 * dynamodb-restart the batches whose idempotency calls failed are retried once DynamoDB Local is back with its data
 * (file-backed, -dbPath), done records skipped.
 */
export const SCENARIOS: readonly ScenarioName[] = ALL_SCENARIOS;

const ROOT = path.join(__dirname, '..');
const TARGETS = path.join(ROOT, 'e2e', 'targets');
const DISPATCHER = path.join(ROOT, 'assets', 'dispatcher');

export const ESM_BATCH = 100;
export const TARGET_BATCH = 25;
export const PARTITIONS = 4;
/** Every POISON_EVERY-th record (and record 1) asks the target to fail. */
export const POISON_EVERY = 250;

export interface Ledger {
  scenario: string;
  produced: number;
  responded: number;
  errored: number;
  failedDest: number;
  lost: number;
  extraInvocations: number;
  /** Target invocations that timed out or failed (context for the bound on extra invocations). */
  failedTargetInvocations: number;
  seconds: number;
}

export const formatLedger = (l: Ledger) =>
  `scenario=${l.scenario} produced=${l.produced} responded=${l.responded} errored=${l.errored} failed_dest=${l.failedDest} lost=${l.lost} extra_invocations=${l.extraInvocations}`;

export function total(ledgers: Ledger[]): Ledger {
  const sum = (k: keyof Ledger) => ledgers.reduce((a, l) => a + (l[k] as number), 0);
  return { scenario: 'ALL', produced: sum('produced'), responded: sum('responded'), errored: sum('errored'), failedDest: sum('failedDest'),
    lost: sum('lost'), extraInvocations: sum('extraInvocations'), failedTargetInvocations: sum('failedTargetInvocations'), seconds: sum('seconds') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isPoison = (i: number) => i === 1 || i % POISON_EVERY === 0;

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Every message of a topic up to its current end. */
async function readAll(kafka: Kafka, topic: string): Promise<{ key: string; value: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = new Map(ends.map((p) => [p.partition, Number(p.high)]));
  const out: { key: string; value: string }[] = [];
  if ([...want.values()].every((h) => h === 0)) return out;
  const seen = new Map<number, number>();
  const consumer = kafka.consumer({ groupId: `ledger-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ partition, message }) => {
    out.push({ key: String(message.key), value: String(message.value) });
    seen.set(partition, Number(message.offset) + 1);
  } });
  await waitFor(`${topic} read to its end`, () => [...want].every(([p, h]) => h === 0 || (seen.get(p) ?? 0) >= h), 60_000);
  await consumer.disconnect();
  return out;
}

export interface ScenarioOptions {
  n: number;
  log?: (line: string) => void;
}

export async function runScenario(scenario: ScenarioName, opts: ScenarioOptions): Promise<Ledger> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const privateEnv = PRIVATE.includes(scenario) ? await te.start({ services: ['kafka', 'dynamodb', 'moto', 'lambdaFront'], ownerPid: process.pid }) : undefined;
  const env = privateEnv ?? te.loadEnv();
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext', undefined, env), logLevel: logLevel.NOTHING, retry: { retries: 30 } });
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', env));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager', env));
  const sqs = new SQSClient(te.awsClientConfig('sqs', env));
  const fns: te.RunningLambda[] = [];
  let esm: LocalEventSourceMapping | undefined;
  try {
    const id = `${scenario}-${randomUUID().slice(0, 8)}`;
    const source = `e2e-src-${id}`; const responseTopic = `e2e-resp-${id}`; const errorTopic = `e2e-err-${id}`;
    await te.createTopic(source, PARTITIONS, env);
    await te.createTopic(responseTopic, PARTITIONS, env);
    await te.createTopic(errorTopic, 1, env);
    const tableName = `e2e-idem-${id}`;
    await dynamodb.send(new CreateTableCommand({ TableName: tableName, BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: IDEMPOTENCY_PARTITION_KEY, KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_PARTITION_KEY, AttributeType: 'S' }] }));
    // A user of our own, so rotating its password touches nothing else on the broker.
    const scramUser = { username: `e2e-${id}`, password: randomUUID() };
    await te.setScramPassword({ ...scramUser, mechanism: 'SCRAM-SHA-512' }, env);
    const scramSecretArn = (await secrets.send(new CreateSecretCommand({ Name: `e2e-scram-${id}`, SecretString: JSON.stringify(scramUser) }))).ARN!;
    const caSecretArn = (await secrets.send(new CreateSecretCommand({ Name: `e2e-ca-${id}`, SecretString: JSON.stringify({ certificate: env.certs.pem.caCert }) }))).ARN!;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `e2e-dlq-${id}` }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;

    const targetName = `e2e-target-${id}`;
    const targetEnv: Record<string, string> = scenario.startsWith('poison') ? { POISON: '1' } : scenario === 'target-timeout' ? { SLOW_EVERY: '15', SLOW_MS: '3000' } : {};
    fns.push(await te.startLambda({ name: targetName, dir: TARGETS, handler: 'index.echo', env: targetEnv, timeoutSeconds: scenario === 'target-timeout' ? 1 : 30 }, env));

    const config: DispatcherConfig = {
      version: 1,
      target: { functionName: targetName, invocationType: 'RequestResponse', payloadFormat: 'confluent', batchSize: TARGET_BATCH, concurrency: 4, maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500 },
      onError: scenario === 'poison-log' ? 'log' : 'fail',
      reportBatchItemFailures: false,
      timeMarginMs: 1_000,
      idempotency: { tableName, mode: 'batched', ttlSeconds: 3600, maxResultBytes: 65536 },
      relay: { bootstrapServers: [env.kafka.bootstrap.saslSsl], auth: 'scram-sha-512', secretArn: scramSecretArn, rootCaSecretArn: caSecretArn, tls: true, responseTopic, errorTopic, clientId: `e2e-${id}` },
    };
    const dispatcherName = `e2e-disp-${id}`;
    const startDispatcher = async () => {
      const fn = await te.startLambda({ name: dispatcherName, dir: DISPATCHER, timeoutSeconds: 30, memoryMb: 512, env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(config), POWERTOOLS_SERVICE_NAME: 'e2e' } }, env);
      fns.push(fn);
      return fn;
    };
    let dispatcher = await startDispatcher();

    // Produce N records across the partitions.
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < opts.n; i += 500) {
      await producer.send({ topic: source, messages: Array.from({ length: Math.min(500, opts.n - i) }, (_, j) => {
        const n = i + j;
        return { key: `k${n}`, value: JSON.stringify(scenario.startsWith('poison') && isPoison(n) ? { n, poison: true } : { n }) };
      }) });
    }
    await producer.disconnect();

    esm = new LocalEventSourceMapping({
      kafka: te.kafkaClientConfig('plaintext', undefined, env), topics: [source], startingPosition: 'TRIM_HORIZON',
      batchSize: ESM_BATCH, maxBatchingWindowSeconds: 0, functionName: dispatcherName, lambdaEndpoint: env.lambda.endpoint,
      region: env.region, awsEndpoint: env.moto.endpoint, onFailure: queueArn, retryDelayMs: 300,
      // AWS's Kafka default retries until the records expire; poison-fail bounds it to reach the destination.
      ...(scenario === 'poison-fail' ? { retryAttempts: 2, bisectBatchOnFunctionError: true } : {}),
      log: (l) => log(`  [${scenario}] ${l}`),
    });
    void esm.start();
    const m = esm;
    const done = () => m.stats.recordsCommitted >= opts.n;

    // The fault, a third of the way in.
    await waitFor('a third of the records', () => m.stats.recordsCommitted >= opts.n / 3 || done(), 120_000);
    switch (scenario) {
      case 'broker-restart':
        await te.stopService('kafka', env); await sleep(2_000); await te.startService('kafka', env); break;
      case 'dynamodb-restart':
        await te.stopService('dynamodb', env); await sleep(2_000); await te.startService('dynamodb', env); break;
      case 'target-throttling':
        await te.throttleLambda(targetName, 30, env); break;
      case 'scram-rotation': {
        const password = randomUUID();
        await te.setScramPassword({ username: scramUser.username, password, mechanism: 'SCRAM-SHA-512' }, env);
        await secrets.send(new PutSecretValueCommand({ SecretId: scramSecretArn, SecretString: JSON.stringify({ ...scramUser, password }) }));
        break;
      }
      case 'dispatcher-killed': {
        // Kill it while a batch is in flight at the target, then let "Lambda" start a new sandbox.
        const before = (await te.listInvocations(targetName, env)).length;
        await waitFor('a target invocation in flight', async () => (await te.listInvocations(targetName, env)).length > before || done(), 30_000);
        await dispatcher.stop();
        await sleep(1_000);
        dispatcher = await startDispatcher();
        break;
      }
      default: break;
    }
    await waitFor(`all ${opts.n} records committed`, done, 300_000);

    // The ledger.
    const produced = new Set(Array.from({ length: opts.n }, (_, i) => i));
    const keyOf = (partition: number, offset: number) => `${partition}@${offset}`;
    // Records' source coordinates → n (values carry n; the response key carries the coordinates).
    const coordinates = new Map<string, number>();
    for (const inv of await te.listInvocations(targetName, env)) {
      for (const e of JSON.parse(inv.payload)) coordinates.set(keyOf(e.payload.partition, e.payload.offset), e.payload.value.n);
    }
    const responded = new Set<number>();
    for (const msg of await readAll(kafka, responseTopic)) {
      const k = JSON.parse(msg.key);
      const n = coordinates.get(keyOf(k.partition, k.offset)) ?? JSON.parse(msg.value)?.echo?.n;
      if (n !== undefined) responded.add(n);
    }
    // Ranges (error topic: end exclusive; on-failure: last inclusive) are mapped to n through the source topic.
    const sourceN = new Map<string, number>();
    const src = kafka.consumer({ groupId: `ledger-src-${randomUUID()}` });
    await src.connect(); await src.subscribe({ topic: source, fromBeginning: true });
    await src.run({ eachMessage: async ({ partition, message }) => { sourceN.set(keyOf(partition, Number(message.offset)), JSON.parse(String(message.value)).n); } });
    await waitFor('source read', () => sourceN.size >= opts.n, 60_000);
    await src.disconnect();
    const range = (partition: number, from: number, toInclusive: number, into: Set<number>) => {
      for (let o = from; o <= toInclusive; o++) { const n = sourceN.get(keyOf(partition, o)); if (n !== undefined) into.add(n); }
    };
    const errored = new Set<number>();
    for (const msg of await readAll(kafka, errorTopic)) {
      const k = JSON.parse(msg.key);
      range(Number(k.partition), Number(k.startOffset), Number(k.endOffset) - 1, errored);
    }
    const failed = new Set<number>();
    for (;;) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      if (!r.Messages?.length) break;
      for (const msg of r.Messages) {
        for (const [tp, info] of Object.entries<any>(JSON.parse(msg.Body!).KafkaBatchInfo.recordsInfo)) {
          range(Number(tp.slice(tp.lastIndexOf('-') + 1)), Number(info.firstRecordOffset), Number(info.lastRecordOffset), failed);
        }
      }
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: r.Messages.map((x, i) => ({ Id: String(i), ReceiptHandle: x.ReceiptHandle! })) }));
    }
    const accounted = new Set([...responded, ...errored, ...failed]);
    const lost = [...produced].filter((n) => !accounted.has(n)).length;
    const invocations = await te.listInvocations(targetName, env);
    const deliveries = invocations.reduce((a, inv) => a + JSON.parse(inv.payload).length, 0);
    const distinct = new Set(invocations.flatMap((inv) => JSON.parse(inv.payload).map((e: any) => keyOf(e.payload.partition, e.payload.offset)))).size;
    return {
      scenario, produced: produced.size, responded: responded.size, errored: errored.size, failedDest: failed.size, lost,
      extraInvocations: deliveries - distinct,
      failedTargetInvocations: invocations.filter((i) => i.functionError || (i.status !== undefined && i.status >= 400)).length,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await esm?.stop().catch(() => undefined);
    await Promise.all(fns.map((f) => f.stop().catch(() => undefined)));
    dynamodb.destroy(); secrets.destroy(); sqs.destroy();
    if (privateEnv) await te.stop(privateEnv);
  }
}
