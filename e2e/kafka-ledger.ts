/**
 * The end-to-end fault ledger: N records → local event source mapping → dispatcher (Lambda emulator)
 * → target (Lambda emulator) → response/error topics, idempotency in DynamoDB Local, secrets and the
 * on-failure queue on moto; on the in-process path the mapping triggers the user's own function instead, which runs
 * the pipeline and the user's code (in-process.ts). One fault per scenario (kafka-scenarios.ts); the ledger accounts
 * for every produced record.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../testenv';
import { DispatcherConfig } from '../contract/dispatcher-config';
import { LocalEventSourceMapping } from '../cli/kafka/esm';
import { Proxy, startProxy } from './proxy';
import { account, Ledger, Observed } from './accounting';
import { KINESIS_SCENARIOS, KinesisScenario, runKinesisScenario } from './kinesis-ledger';
import {
  ErrorRecord,
  KAFKA_SCENARIO_SETUPS,
  KAFKA_SCENARIOS,
  KafkaEnd,
  KafkaRun,
  KafkaScenario,
  KafkaScenarioSetup,
  ROUTE_OF,
} from './kafka-scenarios';
import {
  CANARY,
  createIdempotencyTable,
  createOnFailureQueue,
  isPoison,
  startDispatcher,
  TARGET_BATCH,
  TARGETS,
} from './workload';
import { IN_PROCESS_FUNCTION, inProcessEnv, readUserCodeLog } from './in-process';
import {
  canaryInLogs,
  drainQueue,
  failedInvocations,
  hasResult,
  lastLogLines,
  readAll,
  readErrorRecords,
  waitFor,
} from './observe';

export { account, formatLedger, overlappingRuns, total } from './accounting';
export type { Ledger, Observed } from './accounting';
export { expectationsOf, KAFKA_SCENARIOS, LARGE_EVERY } from './kafka-scenarios';
export type { KafkaScenario } from './kafka-scenarios';

/** Every scenario the ledger implements: Kafka, then Kinesis (kinesis-ledger.ts). */
export const ALL_SCENARIOS = [...KAFKA_SCENARIOS, ...KINESIS_SCENARIOS] as const;
export type ScenarioName = (typeof ALL_SCENARIOS)[number];
/** The scenarios of the ledger and of `npm test`: all of them. */
export const SCENARIOS: readonly ScenarioName[] = ALL_SCENARIOS;

export { CANARY, isPoison, POISON_EVERY, TARGET_BATCH } from './workload';

export const ESM_BATCH = 100;
export const PARTITIONS = 4;

export interface ScenarioOptions {
  n: number;
  log?: (line: string) => void;
}

export async function runScenario(scenario: ScenarioName, opts: ScenarioOptions): Promise<Ledger> {
  if ((KINESIS_SCENARIOS as readonly string[]).includes(scenario)) return runKinesisScenario(scenario as KinesisScenario, opts);
  return runKafkaScenario(scenario as KafkaScenario, KAFKA_SCENARIO_SETUPS[scenario as KafkaScenario], opts);
}

/** Runs one scenario: sets it up, lets a third of the records through, injects its fault, and accounts once all are committed. */
async function runKafkaScenario(scenario: KafkaScenario, setup: KafkaScenarioSetup, opts: ScenarioOptions): Promise<Ledger> {
  const started = Date.now();
  const stage = await openStage(setup);
  try {
    const { run, resources } = await setUp(stage, scenario, setup, opts);
    await waitFor('a third of the records', () => run.stats.recordsCommitted >= opts.n / 3 || run.done(), 180_000);
    const seen = (await setup.fault?.(run)) ?? {};
    // Within the test's own timeout, so that a stalled pipeline fails with what the mapping saw.
    await waitFor(`all ${opts.n} records committed`, run.done, 420_000).catch((e) => {
      throw new Error(
        `${(e as Error).message}; the mapping's counts ${JSON.stringify(run.stats)}; its last log lines:\n${stage.recent.join('\n')}` +
          `\nthe last log lines of ${run.dispatcherName}:\n${lastLogLines(stage.fns, run.dispatcherName, 15).join('\n')}`,
      );
    });
    const end = await observeEnd(stage, run, resources.errorTopic);
    const counts = account(await observed(stage, resources, end));
    for (const check of setup.checks ?? []) await check(run, end);
    return {
      scenario,
      ...counts,
      failedTargetInvocations: end.targetFailures,
      faultHits: setup.faultHits?.count(end, seen) ?? 0,
      faultCounted: setup.faultHits?.counted ?? 'none',
      canaryInLogs: canaryInLogs(stage.fns, run.dispatcherName),
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await stage.close();
  }
}

/** What a scenario starts and must stop: its environment (private or shared), clients, functions, proxies and mapping. */
interface Stage {
  readonly env: te.TestEnv;
  readonly kafka: Kafka;
  readonly dynamodb: DynamoDBClient;
  readonly secrets: SecretsManagerClient;
  readonly sqs: SQSClient;
  readonly fns: te.RunningLambda[];
  readonly proxies: Proxy[];
  /** A folder of the scenario's own (the user's code's effects log), removed at the end. */
  readonly dir: string;
  mapping?: LocalEventSourceMapping;
  /** The mapping's last log lines (coordinates and reasons, never record bytes). */
  readonly recent: string[];
  /** Counts of the mapping's events passing the proxy in front of the dispatcher. */
  readonly proxied: { spoiled: number };
  close(): Promise<void>;
}

async function openStage(setup: KafkaScenarioSetup): Promise<Stage> {
  const privateEnv = setup.environment
    ? await te.start({
        services: ['kafka', 'dynamodb', 'moto', 'lambdaFront'],
        ownerPid: process.pid,
        ...(setup.environment.kafkaProperties ? { kafkaProperties: setup.environment.kafkaProperties } : {}),
      })
    : undefined;
  const env = privateEnv ?? te.loadEnv();
  const stage: Stage = {
    env,
    kafka: new Kafka({
      ...te.kafkaClientConfig('plaintext', undefined, env),
      logLevel: logLevel.NOTHING,
      retry: { retries: 30 },
    }),
    dynamodb: new DynamoDBClient(te.awsClientConfig('dynamodb', env)),
    secrets: new SecretsManagerClient(te.awsClientConfig('secretsmanager', env)),
    sqs: new SQSClient(te.awsClientConfig('sqs', env)),
    fns: [],
    proxies: [],
    dir: fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-kafka-ledger-')),
    recent: [],
    proxied: { spoiled: 0 },
    close: async () => {
      await stage.mapping?.stop().catch(() => undefined);
      await Promise.all(stage.fns.map((f) => f.stop().catch(() => undefined)));
      await Promise.all(stage.proxies.map((p) => p.close()));
      stage.dynamodb.destroy();
      stage.secrets.destroy();
      stage.sqs.destroy();
      fs.rmSync(stage.dir, { recursive: true, force: true });
      if (privateEnv) await te.stop(privateEnv);
    },
  };
  return stage;
}

/** The scenario's topics, table, broker user, secrets and queue. */
interface Resources {
  readonly id: string;
  readonly source: string;
  readonly responseTopic: string;
  readonly errorTopic: string;
  readonly tableName: string;
  readonly scramUser: te.UserPassword;
  readonly scramSecretArn: string;
  readonly caSecretArn: string;
  readonly queue: { url: string; arn: string };
  /** Counts the dispatcher's Secrets Manager calls on their way to moto. */
  readonly secretsProxy: Proxy;
}

async function createResources(stage: Stage, scenario: KafkaScenario): Promise<Resources> {
  const { env, secrets } = stage;
  const id = `${scenario}-${randomUUID().slice(0, 8)}`;
  const source = `e2e-src-${id}`;
  const responseTopic = `e2e-resp-${id}`;
  const errorTopic = `e2e-err-${id}`;
  await te.createTopic(source, PARTITIONS, env);
  await te.createTopic(responseTopic, PARTITIONS, env);
  await te.createTopic(errorTopic, 1, env);
  const tableName = `e2e-idem-${id}`;
  await createIdempotencyTable(stage.dynamodb, tableName);
  // A user of our own, so rotating its password touches nothing else on the broker.
  const scramUser = { username: `e2e-${id}`, password: randomUUID() };
  await te.setScramPassword({ ...scramUser, mechanism: 'SCRAM-SHA-512' }, env);
  const scramSecretArn = (
    await secrets.send(new CreateSecretCommand({ Name: `e2e-scram-${id}`, SecretString: JSON.stringify(scramUser) }))
  ).ARN!;
  const caSecretArn = (
    await secrets.send(
      new CreateSecretCommand({ Name: `e2e-ca-${id}`, SecretString: JSON.stringify({ certificate: env.certs.pem.caCert }) }),
    )
  ).ARN!;
  const queue = await createOnFailureQueue(stage.sqs, `e2e-dlq-${id}`);
  const secretsProxy = await startProxy({
    target: env.moto.endpoint,
    classify: (req) => String(req.headers['x-amz-target'] ?? ''),
  });
  stage.proxies.push(secretsProxy);
  return { id, source, responseTopic, errorTopic, tableName, scramUser, scramSecretArn, caSecretArn, queue, secretsProxy };
}

/** Creates what the scenario needs, starts its functions, produces the records and starts the mapping. */
async function setUp(
  stage: Stage,
  scenario: KafkaScenario,
  setup: KafkaScenarioSetup,
  opts: ScenarioOptions,
): Promise<{ run: KafkaRun; resources: Resources }> {
  const r = await createResources(stage, scenario);
  const inProcess = setup.path === 'in-process';
  const targets = inProcess ? [] : await startTargets(stage, r.id, setup, opts.n);
  const dispatcherName = `e2e-disp-${r.id}`;
  const effectsFile = path.join(stage.dir, 'effects.jsonl');
  const dispatcher = {
    name: dispatcherName,
    config: dispatcherConfig(stage.env, r, targets, setup),
    timeoutSeconds: setup.dispatcher?.timeoutSeconds ?? 30,
    env: {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: r.secretsProxy.url,
      ...(inProcess ? { ...setup.target?.env?.(opts.n), ...inProcessEnv(effectsFile) } : {}),
    },
    dir: inProcess ? IN_PROCESS_FUNCTION : undefined,
  };
  let running = await startDispatcher(dispatcher, stage.env);
  stage.fns.push(running);
  await produce(stage.kafka, r.source, opts.n, setup);
  const mapping = await startMapping(stage, r, dispatcherName, setup, scenario, opts.log ?? (() => undefined));
  const run: KafkaRun = {
    env: stage.env,
    kafka: stage.kafka,
    secrets: stage.secrets,
    responseTopic: r.responseTopic,
    targets,
    dispatcherName,
    scramUser: r.scramUser,
    scramSecretArn: r.scramSecretArn,
    stats: mapping.stats,
    secretReads: () => r.secretsProxy.counts.get('secretsmanager.GetSecretValue') ?? 0,
    done: () => mapping.stats.recordsCommitted >= opts.n,
    userCode: inProcess ? () => readUserCodeLog(effectsFile) : undefined,
    stopDispatcher: () => running.stop(),
    startDispatcher: async () => {
      running = await startDispatcher(dispatcher, stage.env);
      stage.fns.push(running);
    },
  };
  return { run, resources: r };
}

/** The target, and with a routed target the route=a and route=b targets after it. */
async function startTargets(stage: Stage, id: string, setup: KafkaScenarioSetup, n: number): Promise<string[]> {
  const targetName = `e2e-target-${id}`;
  const timeoutSeconds = setup.target?.timeoutSeconds ?? 30;
  const concurrency = setup.target?.concurrency;
  stage.fns.push(
    await te.startLambda(
      {
        name: targetName,
        dir: TARGETS,
        handler: 'index.echo',
        env: setup.target?.env?.(n) ?? {},
        timeoutSeconds,
        ...(concurrency ? { concurrency } : {}),
      },
      stage.env,
    ),
  );
  const routeTargets = setup.target?.routed ? ['a', 'b'].map((route) => `${targetName}-${route}`) : [];
  for (const name of routeTargets)
    stage.fns.push(await te.startLambda({ name, dir: TARGETS, handler: 'index.echo', timeoutSeconds }, stage.env));
  return [targetName, ...routeTargets];
}

function dispatcherConfig(
  env: te.TestEnv,
  r: Resources,
  targets: readonly string[],
  setup: KafkaScenarioSetup,
): DispatcherConfig {
  const [targetName, ...routeTargets] = targets;
  const calls = {
    invocationType: 'RequestResponse',
    payloadFormat: 'confluent',
    recordsPerInvocation: TARGET_BATCH,
    concurrency: 4,
    maxAttempts: 3,
    baseDelayMs: 50,
    maxDelayMs: 500,
  } as const;
  return {
    version: 2,
    target:
      setup.path === 'in-process'
        ? { inProcess: true, ...calls }
        : { functionName: targetName, ...calls, timeoutMs: (setup.target?.timeoutSeconds ?? 30) * 1000 },
    onError: setup.dispatcher?.onError ?? 'fail',
    reportBatchItemFailures: false,
    timeMarginMs: 1_000,
    idempotency: {
      tableName: r.tableName,
      mode: setup.dispatcher?.mode ?? 'batched',
      ttlSeconds: 3600,
      maxStoredResultBytes: 65536,
      ...(setup.dispatcher?.keyPointer ? { keyPointer: setup.dispatcher.keyPointer } : {}),
    },
    relay: {
      bootstrapServers: [env.kafka.bootstrap.saslSsl],
      auth: 'scram-sha-512',
      secretArn: r.scramSecretArn,
      rootCaSecretArn: r.caSecretArn,
      tls: true,
      responseTopic: r.responseTopic,
      errorTopic: r.errorTopic,
      clientId: `e2e-${r.id}`,
    },
    routes: routeTargets.length
      ? routeTargets.map((functionName, i) => ({
          match: { header: { name: 'route', value: ROUTE_OF[i]! } },
          functionName,
          invocationType: 'RequestResponse' as const,
          payloadFormat: 'confluent' as const,
          responseTopic: r.responseTopic,
        }))
      : undefined,
  };
}

/** Record n's value: its number, the canary, and the scenario's marks (in shared-key-poison record n and n + N/2 share their id). */
function recordValue(setup: KafkaScenarioSetup, total: number): (n: number) => string {
  const half = Math.ceil(total / 2);
  const shared = setup.records === 'shared-key-poison';
  return (n) => {
    const poison = (setup.records === 'poison' && isPoison(n)) || (shared && isPoison(n % half));
    return JSON.stringify({
      n,
      canary: CANARY,
      ...(shared ? { id: `order-${n % half}` } : {}),
      ...(poison ? { poison: true } : {}),
    });
  };
}

/** Produces N records across the partitions, with route headers when the target is routed. */
async function produce(kafka: Kafka, topic: string, total: number, setup: KafkaScenarioSetup): Promise<void> {
  const value = recordValue(setup, total);
  // Idempotent, so a retried send cannot write a record twice (the ledger counts by coordinates).
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  for (let i = 0; i < total; i += 500) {
    await producer.send({
      topic,
      messages: Array.from({ length: Math.min(500, total - i) }, (_, j) => {
        const route = setup.target?.routed ? ROUTE_OF[(i + j) % 3] : undefined;
        return { key: `k${i + j}`, value: value(i + j), headers: route === undefined ? undefined : { route } };
      }),
    });
  }
  await producer.disconnect();
}

/** With spoilPoison, the mapping's events pass a proxy that spoils each poison record's timestamp (its bytes stay). */
function spoilPoisonTimestamps(stage: Stage, body: Buffer): Buffer {
  if (body.length === 0) return body;
  const event = JSON.parse(body.toString('utf8'));
  for (const group of Object.values<any[]>(event.records ?? {})) {
    for (const r of group) {
      if (r.value && Buffer.from(r.value, 'base64').toString('utf8').includes('"poison":true')) {
        r.timestamp = String(r.timestamp);
        stage.proxied.spoiled++;
      }
    }
  }
  return Buffer.from(JSON.stringify(event));
}

async function startMapping(
  stage: Stage,
  r: Resources,
  dispatcherName: string,
  setup: KafkaScenarioSetup,
  scenario: KafkaScenario,
  log: (line: string) => void,
): Promise<LocalEventSourceMapping> {
  const { env } = stage;
  const lambdaProxy = await startProxy({
    target: env.lambda.endpoint,
    rewrite: (_req, body) => (setup.mapping?.spoilPoison ? spoilPoisonTimestamps(stage, body) : body),
  });
  stage.proxies.push(lambdaProxy);
  const { retryAttempts, bisectBatchOnFunctionError } = setup.mapping ?? {};
  const mapping = new LocalEventSourceMapping({
    kafka: te.kafkaClientConfig('plaintext', undefined, env),
    topics: [r.source],
    startingPosition: 'TRIM_HORIZON',
    batchSize: ESM_BATCH,
    maxBatchingWindowSeconds: 0,
    functionName: dispatcherName,
    lambdaEndpoint: lambdaProxy.url,
    region: env.region,
    awsEndpoint: env.moto.endpoint,
    onFailure: r.queue.arn,
    retryDelayMs: 300,
    ...(retryAttempts !== undefined ? { retryAttempts } : {}),
    ...(bisectBatchOnFunctionError !== undefined ? { bisectBatchOnFunctionError } : {}),
    log: (l) => {
      stage.recent.push(l);
      if (stage.recent.length > 40) stage.recent.shift();
      log(`  [${scenario}] ${l}`);
    },
  });
  stage.mapping = mapping;
  void mapping.start();
  return mapping;
}

/** What the Lambda front, the error topic and the proxies hold once every record is committed. */
async function observeEnd(stage: Stage, run: KafkaRun, errorTopic: string): Promise<KafkaEnd> {
  const { env } = stage;
  const [targetName, ...routeTargets] = run.targets;
  const invocations = (await Promise.all(run.targets.map((name) => te.listInvocations(name, env)))).flat();
  const userCode = run.userCode?.();
  return {
    stats: run.stats,
    target: targetName === undefined ? { throttled: 0, killedInFlight: 0 } : await te.lambdaStats(targetName, env),
    dispatcher: await te.lambdaStats(run.dispatcherName, env),
    routeTargets: await Promise.all(routeTargets.map((name) => te.lambdaStats(name, env))),
    invocations,
    // In process, each record the user's code throws at fails its call.
    targetFailures: userCode ? userCode.threw.length : failedInvocations(invocations),
    errors: (await readErrorRecords(stage.kafka, errorTopic)).map(({ key: k, value: v }): ErrorRecord => ({
      partition: Number(k.partition),
      startOffset: Number(k.startOffset),
      endOffset: Number(k.endOffset),
      records: v.records,
      functionError: String(v.functionError),
    })),
    secretReads: run.secretReads(),
    spoiled: stage.proxied.spoiled,
    userCode,
  };
}

/** The ledger's view: what the pipeline's ends hold, by source coordinates. */
async function observed(stage: Stage, r: Resources, end: KafkaEnd): Promise<Observed> {
  const failedRanges: Observed['failedRanges'][number][] = [];
  for (const body of await drainQueue(stage.sqs, r.queue.url)) {
    for (const [tp, info] of Object.entries<any>(body.KafkaBatchInfo.recordsInfo)) {
      failedRanges.push({
        partition: Number(tp.slice(tp.lastIndexOf('-') + 1)),
        first: Number(info.firstRecordOffset),
        last: Number(info.lastRecordOffset),
      });
    }
  }
  const coordinatesOf = (inv: te.InvocationRecord) =>
    (JSON.parse(inv.payload) as any[]).map((e) => ({ partition: Number(e.payload.partition), offset: Number(e.payload.offset) }));
  return {
    source: (await readAll(stage.kafka, r.source)).map((msg) => ({
      partition: msg.partition,
      offset: msg.offset,
      n: JSON.parse(msg.value.toString('utf8')).n,
      key: msg.keyBase64,
      value: msg.value.toString('base64'),
    })),
    responses: (await readAll(stage.kafka, r.responseTopic)).map((msg) => ({
      ...JSON.parse(msg.key),
      hasResult: hasResult(msg.value),
    })),
    errors: end.errors,
    failedRanges,
    // In process, each effect of the user's code is a delivery.
    invocations: end.userCode
      ? end.userCode.effects.map(({ partition, offset }) => [{ partition, offset }])
      : end.invocations.map(coordinatesOf),
  };
}
