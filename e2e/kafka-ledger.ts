/**
 * The end-to-end fault ledger: N records → local event source mapping → dispatcher (Lambda emulator)
 * → target (Lambda emulator) → response/error topics, idempotency in DynamoDB Local, secrets and the
 * on-failure queue on moto. One fault per scenario; the ledger accounts for every produced record.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import * as te from '../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig, IDEMPOTENCY_PARTITION_KEY } from '../contract/dispatcher-config';
import { LocalEventSourceMapping } from '../cli/kafka/esm';
import { Proxy, startProxy } from './proxy';
import { account, Ledger, Observed, overlappingRuns } from './accounting';
import { KINESIS_SCENARIOS, KinesisScenario, runKinesisScenario } from './kinesis-ledger';
import { CANARY, DISPATCHER, isPoison, TARGET_BATCH, TARGETS } from './workload';
import { countLines, drainQueue, hasResult, readAll, sleep, waitFor } from './observe';

export { account, formatLedger, overlappingRuns, total } from './accounting';
export type { Ledger, Observed } from './accounting';

/** The Kafka scenarios; each can be run by name with `npm run e2e -- NAME`. */
export const KAFKA_SCENARIOS = [
  'baseline', 'broker-restart', 'dynamodb-restart', 'target-throttling', 'target-timeout', 'poison-log', 'poison-fail',
  'scram-rotation', 'dispatcher-killed', 'large-result-relay-outage', 'decode-poison-log', 'shared-key-poison',
  'strict-target-timeout', 'dynamodb-outage-after-invoke', 'routing-target-throttling',
] as const;
/** Every scenario the ledger implements: Kafka, then Kinesis (kinesis-ledger.ts). */
export const ALL_SCENARIOS = [...KAFKA_SCENARIOS, ...KINESIS_SCENARIOS] as const;
export type ScenarioName = typeof ALL_SCENARIOS[number];
/**
 * Scenarios that stop a service or change the broker's settings run in a private environment (its own Kafka,
 * DynamoDB Local, moto and Lambda front, stopped by a watchdog if this process dies), so they never disturb suites
 * using the shared one.
 */
const PRIVATE: ScenarioName[] = ['broker-restart', 'dynamodb-restart', 'dynamodb-outage-after-invoke', 'scram-rotation'];
/** The scenarios of the ledger and of `npm test`: all of them. */
export const SCENARIOS: readonly ScenarioName[] = ALL_SCENARIOS;

export { CANARY, isPoison, POISON_EVERY, TARGET_BATCH } from './workload';

export const ESM_BATCH = 100;
export const PARTITIONS = 4;
/** In large-result-relay-outage every LARGE_EVERY-th record's result is 70 KB-900 KB. */
export const LARGE_EVERY = 20;
/** The broker re-authenticates SASL sessions this often in scram-rotation. */
const REAUTH_MS = 15_000;

/** In routing-target-throttling record n carries the header route=a (n % 3 == 0), route=b (1), or none (2: the default target). */
const ROUTE_OF = ['a', 'b', undefined] as const;

export interface ScenarioOptions {
  n: number;
  log?: (line: string) => void;
}

export async function runScenario(scenario: ScenarioName, opts: ScenarioOptions): Promise<Ledger> {
  if ((KINESIS_SCENARIOS as readonly string[]).includes(scenario)) return runKinesisScenario(scenario as KinesisScenario, opts);
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const privateEnv = PRIVATE.includes(scenario) ? await te.start({
    services: ['kafka', 'dynamodb', 'moto', 'lambdaFront'], ownerPid: process.pid,
    ...(scenario === 'scram-rotation' ? { kafkaProperties: { 'connections.max.reauth.ms': String(REAUTH_MS) } } : {}),
  }) : undefined;
  const env = privateEnv ?? te.loadEnv();
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext', undefined, env), logLevel: logLevel.NOTHING, retry: { retries: 30 } });
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', env));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager', env));
  const sqs = new SQSClient(te.awsClientConfig('sqs', env));
  const fns: te.RunningLambda[] = [];
  const proxies: Proxy[] = [];
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
    // The dispatcher's Secrets Manager calls go through a proxy that counts them.
    const secretsProxy = await startProxy({ target: env.moto.endpoint, classify: (req) => String(req.headers['x-amz-target'] ?? '') });
    proxies.push(secretsProxy);
    const secretReads = () => secretsProxy.counts.get('secretsmanager.GetSecretValue') ?? 0;

    const strict = scenario === 'strict-target-timeout';
    const dispatcherTimeout = strict ? 6 : 30;
    const targetName = `e2e-target-${id}`;
    const targetEnv: Record<string, string> = {
      ...(['poison-log', 'poison-fail', 'shared-key-poison'].includes(scenario) ? { POISON: '1' } : {}),
      ...(scenario === 'target-timeout' ? { SLOW_EVERY: '15', SLOW_MS: '3000' } : {}),
      // Longer than the dispatcher has left (6 s), shorter than the target's own timeout (10 s).
      ...(strict ? { SLOW_EVERY: String(Math.max(3, Math.round(opts.n / 400))), SLOW_MS: '8000' } : {}),
      ...(scenario === 'large-result-relay-outage' ? { LARGE_EVERY: String(LARGE_EVERY) } : {}),
      // Target calls that last, so the fault finds one in flight.
      ...(scenario === 'dynamodb-outage-after-invoke' || scenario === 'dispatcher-killed' ? { DELAY_MS: '300' } : {}),
      // The records after the rotation take about 25 s, longer than a SASL session (REAUTH_MS): the relay must
      // re-authenticate with the rotated password while work is in flight.
      ...(scenario === 'scram-rotation' ? { DELAY_MS: String(Math.round(25_000 / ((2 / 3) * (opts.n / TARGET_BATCH)))) } : {}),
    };
    const targetTimeout = scenario === 'target-timeout' ? 1 : strict ? 10 : 30;
    fns.push(await te.startLambda({ name: targetName, dir: TARGETS, handler: 'index.echo', env: targetEnv, timeoutSeconds: targetTimeout, ...(strict ? { concurrency: 2 } : {}) }, env));
    // routing-target-throttling: two more targets, chosen by the record's header; the rest goes to targetName.
    const routed = scenario === 'routing-target-throttling';
    const routeTargets = routed ? ['a', 'b'].map((r) => `${targetName}-${r}`) : [];
    for (const name of routeTargets) fns.push(await te.startLambda({ name, dir: TARGETS, handler: 'index.echo', timeoutSeconds: targetTimeout }, env));

    const config: DispatcherConfig = {
      version: 1,
      target: {
        functionName: targetName, invocationType: 'RequestResponse', payloadFormat: 'confluent', recordsPerInvocation: TARGET_BATCH, concurrency: 4,
        maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500, timeoutMs: targetTimeout * 1000,
      },
      onError: ['poison-log', 'decode-poison-log', 'shared-key-poison'].includes(scenario) ? 'log' : 'fail',
      reportBatchItemFailures: false,
      timeMarginMs: 1_000,
      idempotency: {
        tableName, mode: strict ? 'strict' : 'batched', ttlSeconds: 3600, maxResultBytes: 65536,
        ...(scenario === 'shared-key-poison' ? { keyPointer: '/id' } : {}),
      },
      relay: { bootstrapServers: [env.kafka.bootstrap.saslSsl], auth: 'scram-sha-512', secretArn: scramSecretArn, rootCaSecretArn: caSecretArn, tls: true, responseTopic, errorTopic, clientId: `e2e-${id}` },
      routes: routed ? routeTargets.map((functionName, i) => ({
        match: { header: { name: 'route', value: ROUTE_OF[i]! } }, functionName, invocationType: 'RequestResponse' as const, payloadFormat: 'confluent' as const, responseTopic,
      })) : undefined,
    };
    const dispatcherName = `e2e-disp-${id}`;
    const startDispatcher = async () => {
      const fn = await te.startLambda({
        name: dispatcherName, dir: DISPATCHER, timeoutSeconds: dispatcherTimeout, memoryMb: 512,
        env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(config), POWERTOOLS_SERVICE_NAME: 'e2e', AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsProxy.url },
      }, env);
      fns.push(fn);
      return fn;
    };
    let dispatcher = await startDispatcher();

    // Produce N records across the partitions. In shared-key-poison record n and n + N/2 share their id.
    const half = Math.ceil(opts.n / 2);
    const value = (n: number) => {
      const poison = ['poison-log', 'poison-fail', 'decode-poison-log'].includes(scenario) && isPoison(n);
      const sharedPoison = scenario === 'shared-key-poison' && isPoison(n % half);
      return JSON.stringify({ n, canary: CANARY, ...(scenario === 'shared-key-poison' ? { id: `order-${n % half}` } : {}), ...(poison || sharedPoison ? { poison: true } : {}) });
    };
    // Idempotent, so a retried send cannot write a record twice (the ledger counts by coordinates).
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    for (let i = 0; i < opts.n; i += 500) {
      await producer.send({
        topic: source,
        messages: Array.from({ length: Math.min(500, opts.n - i) }, (_, j) => {
          const route = routed ? ROUTE_OF[(i + j) % 3] : undefined;
          return { key: `k${i + j}`, value: value(i + j), headers: route === undefined ? undefined : { route } };
        }),
      });
    }
    await producer.disconnect();

    // decode-poison-log: the mapping's events pass a proxy that spoils each poison record's timestamp (its bytes stay).
    let spoiled = 0;
    const lambdaProxy = await startProxy({
      target: env.lambda.endpoint,
      rewrite: (_req, body) => {
        if (scenario !== 'decode-poison-log' || body.length === 0) return body;
        const event = JSON.parse(body.toString('utf8'));
        for (const group of Object.values<any[]>(event.records ?? {})) {
          for (const r of group) {
            if (r.value && Buffer.from(r.value, 'base64').toString('utf8').includes('"poison":true')) { r.timestamp = String(r.timestamp); spoiled++; }
          }
        }
        return Buffer.from(JSON.stringify(event));
      },
    });
    proxies.push(lambdaProxy);

    /** The mapping's last log lines (coordinates and reasons, never record bytes). */
    const recent: string[] = [];
    esm = new LocalEventSourceMapping({
      kafka: te.kafkaClientConfig('plaintext', undefined, env), topics: [source], startingPosition: 'TRIM_HORIZON',
      batchSize: ESM_BATCH, maxBatchingWindowSeconds: 0, functionName: dispatcherName, lambdaEndpoint: lambdaProxy.url,
      region: env.region, awsEndpoint: env.moto.endpoint, onFailure: queueArn, retryDelayMs: 300,
      // AWS's Kafka default retries until the records expire; poison-fail bounds it to reach the destination.
      ...(scenario === 'poison-fail' ? { retryAttempts: 2, bisectBatchOnFunctionError: true } : {}),
      log: (l) => { recent.push(l); if (recent.length > 40) recent.shift(); log(`  [${scenario}] ${l}`); },
    });
    void esm.start();
    const m = esm;
    const done = () => m.stats.recordsCommitted >= opts.n;
    const targetCalls = async () => (await Promise.all([targetName, ...routeTargets].map((name) => te.listInvocations(name, env)))).flat();
    const inFlight = async () => (await targetCalls()).some((i) => i.doneAt === undefined);

    // The fault, a third of the way in; faultHits counts what it hit, outside the dispatcher.
    await waitFor('a third of the records', () => m.stats.recordsCommitted >= opts.n / 3 || done(), 180_000);
    /** What the Lambda front saw, once every record is committed. */
    type After = { target: te.LambdaStats; dispatcher: te.LambdaStats; routeTargets: te.LambdaStats[]; targetFailures: number };
    let faultHits = (_after: After) => 0;
    let faultCounted = 'none';
    switch (scenario) {
      case 'broker-restart': {
        // Stopped while the dispatcher is at work: its relay and the mapping's consumer lose the broker.
        await waitFor('a dispatcher invocation in flight', async () => (await te.listInvocations(dispatcherName, env)).some((i) => i.doneAt === undefined) || done(), 30_000);
        const before = { crashes: m.stats.consumerCrashes, failed: m.stats.failedInvocations, joins: m.stats.groupJoins };
        const down = Date.now();
        await te.stopService('kafka', env); await sleep(2_000); await te.startService('kafka', env);
        const up = Date.now();
        const caught = (await te.listInvocations(dispatcherName, env)).filter((i) => i.at < up && (i.doneAt === undefined || i.doneAt > down)).length;
        faultHits = () => caught + m.stats.consumerCrashes - before.crashes + m.stats.failedInvocations - before.failed + m.stats.groupJoins - before.joins;
        faultCounted = 'dispatcher invocations running while the broker was down, and the crashes, failed invocations and group rejoins the mapping saw';
        break;
      }
      case 'dynamodb-restart': {
        const before = m.stats.failedInvocations;
        await te.stopService('dynamodb', env); await sleep(2_000); await te.startService('dynamodb', env);
        faultHits = () => m.stats.failedInvocations - before;
        faultCounted = 'failed dispatcher invocations the mapping saw';
        break;
      }
      case 'dynamodb-outage-after-invoke': {
        // Stopped while a target call is in flight: its answer comes while the store is down.
        await waitFor('a target invocation in flight', async () => (await inFlight()) || done(), 30_000);
        const stoppedAt = Date.now();
        await te.stopService('dynamodb', env);
        const restartAt = Date.now();
        await sleep(2_000);
        await te.startService('dynamodb', env);
        const calls = await targetCalls();
        const answered = calls.filter((i) => i.doneAt !== undefined && i.doneAt >= stoppedAt && i.doneAt <= restartAt + 2_000).length;
        faultHits = () => answered;
        faultCounted = 'target invocations answered while DynamoDB Local was down';
        break;
      }
      case 'routing-target-throttling':
        await te.throttleLambda(routeTargets[1], 30, env);
        faultHits = (a) => a.routeTargets[1].throttled;
        faultCounted = 'TooManyRequestsException answers of the Lambda front to the route=b target';
        break;
      case 'target-throttling':
        await te.throttleLambda(targetName, 30, env);
        faultHits = (a) => a.target.throttled;
        faultCounted = 'TooManyRequestsException answers of the Lambda front';
        break;
      case 'scram-rotation': {
        const reads = secretReads();
        const password = randomUUID();
        await te.setScramPassword({ username: scramUser.username, password, mechanism: 'SCRAM-SHA-512' }, env);
        await secrets.send(new PutSecretValueCommand({ SecretId: scramSecretArn, SecretString: JSON.stringify({ ...scramUser, password }) }));
        faultHits = () => secretReads() - reads;
        faultCounted = 'Secrets Manager reads of the relay after the rotation (the broker ends SASL sessions after 15 s)';
        break;
      }
      case 'dispatcher-killed': {
        // Kill it while a batch is in flight at the target, then let "Lambda" start a new sandbox.
        await waitFor('a target invocation in flight', async () => (await inFlight()) || done(), 30_000);
        await dispatcher.stop();
        await sleep(1_000);
        dispatcher = await startDispatcher();
        faultHits = (a) => a.dispatcher.killedInFlight;
        faultCounted = 'invocations in flight when the dispatcher was killed';
        break;
      }
      case 'large-result-relay-outage': {
        // The response topic refuses every write for 5 s (its max.message.bytes set below any result), then takes them again.
        const before = m.stats.failedInvocations;
        const admin = kafka.admin();
        await admin.connect();
        const set = (bytes: string) => admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: responseTopic, configEntries: [{ name: 'max.message.bytes', value: bytes }] }] });
        await set('256');
        await sleep(5_000);
        await set('1048588');
        await admin.disconnect();
        faultHits = () => m.stats.failedInvocations - before;
        faultCounted = 'failed dispatcher invocations the mapping saw while the response topic refused writes';
        break;
      }
      case 'target-timeout': case 'poison-log': case 'poison-fail': case 'strict-target-timeout':
        faultHits = (a) => a.targetFailures;
        faultCounted = 'target invocations that failed or timed out, as the Lambda front answered them';
        break;
      case 'decode-poison-log':
        faultHits = () => spoiled;
        faultCounted = 'records the proxy spoiled in the mapping\'s events';
        break;
      default: break;
    }
    // Within the test's own timeout, so that a stalled pipeline fails with what the mapping saw.
    await waitFor(`all ${opts.n} records committed`, done, 420_000).catch((e) => {
      throw new Error(`${(e as Error).message}; the mapping's counts ${JSON.stringify(m.stats)}; its last log lines:\n${recent.join('\n')}`);
    });

    // The ledger: what the pipeline's ends hold.
    const invocations = await targetCalls();
    const after: After = {
      target: await te.lambdaStats(targetName, env), dispatcher: await te.lambdaStats(dispatcherName, env),
      routeTargets: await Promise.all(routeTargets.map((name) => te.lambdaStats(name, env))),
      targetFailures: invocations.filter((i) => i.functionError || (i.status !== undefined && i.status >= 400)).length,
    };
    const sourceMessages = await readAll(kafka, source);
    const errors = (await readAll(kafka, errorTopic)).map((msg) => {
      const k = JSON.parse(msg.key); const v = JSON.parse(msg.value.toString('utf8'));
      return { partition: Number(k.partition), startOffset: Number(k.startOffset), endOffset: Number(k.endOffset), records: v.records, functionError: String(v.functionError) };
    });
    const failedRanges: Observed['failedRanges'][number][] = [];
    for (const body of await drainQueue(sqs, queueUrl)) {
      for (const [tp, info] of Object.entries<any>(body.KafkaBatchInfo.recordsInfo)) {
        failedRanges.push({ partition: Number(tp.slice(tp.lastIndexOf('-') + 1)), first: Number(info.firstRecordOffset), last: Number(info.lastRecordOffset) });
      }
    }
    const coordinatesOf = (inv: te.InvocationRecord) => (JSON.parse(inv.payload) as any[]).map((e) => ({ partition: Number(e.payload.partition), offset: Number(e.payload.offset) }));
    const counts = account({
      source: sourceMessages.map((msg) => ({ partition: msg.partition, offset: msg.offset, n: JSON.parse(msg.value.toString('utf8')).n, key: msg.keyBase64, value: msg.value.toString('base64') })),
      responses: (await readAll(kafka, responseTopic)).map((msg) => ({ ...JSON.parse(msg.key), hasResult: hasResult(msg.value) })),
      errors, failedRanges, invocations: invocations.map(coordinatesOf),
    });
    if (scenario === 'shared-key-poison') {
      const followed = errors.filter((e) => e.functionError === 'SharedKeyFailedError').length;
      faultHits = () => followed;
      faultCounted = 'error records of records that shared their key with a failed record';
    }
    if (routed) {
      const wrong = await misroutedOrUnordered([targetName, ...routeTargets], (name) => te.listInvocations(name, env));
      if (wrong.length > 0) throw new Error(`routing-target-throttling: ${wrong.slice(0, 5).join('; ')}`);
    }
    if (strict) {
      const overlaps = overlappingRuns(invocations.map((inv) => ({ at: inv.at, doneAt: inv.doneAt, records: coordinatesOf(inv).map((c) => `${c.partition}@${c.offset}`) })));
      if (overlaps > 0) throw new Error(`strict-target-timeout: ${overlaps} record(s) ran twice at once`);
      const cutOff = invocations.filter((i) => i.doneAt !== undefined && i.doneAt - i.at > (dispatcherTimeout - 1) * 1000).length;
      faultHits = () => cutOff;
      faultCounted = 'target runs that outlasted the dispatcher\'s wait (the Lambda front\'s start and end times)';
    }
    const canaryInLogs = fns.filter((f) => f.name === dispatcherName).reduce((a, f) => a + countLines(f.logFile, CANARY), 0);
    return {
      scenario, ...counts,
      failedTargetInvocations: after.targetFailures,
      faultHits: faultHits(after), faultCounted, canaryInLogs,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await esm?.stop().catch(() => undefined);
    await Promise.all(fns.map((f) => f.stop().catch(() => undefined)));
    await Promise.all(proxies.map((p) => p.close()));
    dynamodb.destroy(); secrets.destroy(); sqs.destroy();
    if (privateEnv) await te.stop(privateEnv);
  }
}

/**
 * What routing got wrong, as each target's invocations show it: a record at a target its header does not name
 * (targets[0] takes those without a route header), or a partition's records reaching a target out of offset order
 * (a record seen again after a retry is not counted again).
 */
async function misroutedOrUnordered(targets: string[], invocationsOf: (name: string) => Promise<te.InvocationRecord[]>): Promise<string[]> {
  const wrong: string[] = [];
  for (const [t, name] of targets.entries()) {
    const seen = new Set<string>();
    const last = new Map<number, number>();
    for (const inv of (await invocationsOf(name)).sort((a, b) => a.at - b.at)) {
      for (const { payload: p } of JSON.parse(inv.payload) as any[]) {
        const expected = [1, 2, 0][p.value.n % 3]; // route=a, route=b, the default target
        if (expected !== t) wrong.push(`record ${p.value.n} at ${name}`);
        const at = `${p.partition}@${p.offset}`;
        if (seen.has(at)) continue;
        seen.add(at);
        if ((last.get(p.partition) ?? -1) > p.offset) wrong.push(`${name}: partition ${p.partition} offset ${p.offset} after ${last.get(p.partition)}`);
        last.set(p.partition, p.offset);
      }
    }
  }
  return wrong;
}
