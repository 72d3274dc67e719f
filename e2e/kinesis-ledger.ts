/**
 * The fault ledger for Kinesis: N records put on a 4-shard stream (moto) → the local Kinesis event source mapping
 * (two batches per shard at once, checkpoints in a file) → the dispatcher bundle (Lambda emulator) → target (Lambda
 * emulator) → response topic, idempotency in DynamoDB Local, the on-failure queue on moto. One fault per scenario
 * (kinesis-scenarios.ts); the same accounting as the Kafka ledger, with a record's shard as its partition and its place
 * in the shard as its offset.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../testenv';
import { DispatcherConfig } from '../contract/dispatcher-config';
import { LocalKinesisEsmOptions, LocalKinesisEventSourceMapping } from '../cli/kinesis/esm';
import { account, Ledger, Observed } from './accounting';
import { KINESIS_SCENARIO_SETUPS, KinesisEnd, KinesisRun, KinesisScenario, KinesisScenarioSetup } from './kinesis-scenarios';
import {
  CANARY,
  createIdempotencyTable,
  createOnFailureQueue,
  isPoison,
  startDispatcher,
  TARGET_BATCH,
  TARGETS,
} from './workload';
import { canaryInLogs, drainQueue, failedInvocations, hasResult, readAll, readErrorRecords, waitFor } from './observe';

export { KINESIS_SCENARIOS } from './kinesis-scenarios';
export type { KinesisScenario } from './kinesis-scenarios';

export const KINESIS_SHARDS = 4;
export const KINESIS_ESM_BATCH = 100;
export const KINESIS_PARALLELIZATION = 2;

/** 64 partition keys: spread over the shards, each with many records whose order the ledger checks. */
const keyOf = (n: number) => `k${n % 64}`;

interface Put {
  n: number;
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: string;
}

/** Puts the records 500 at a time, again for any the stream refused, and returns where each went. */
async function putAll(kinesis: KinesisClient, stream: string, data: (n: number) => string, n: number): Promise<Put[]> {
  const puts: Put[] = [];
  let todo = Array.from({ length: n }, (_, i) => i);
  while (todo.length) {
    const chunk = todo.slice(0, 500);
    const out = await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: chunk.map((i) => ({ PartitionKey: keyOf(i), Data: Buffer.from(data(i)) })),
      }),
    );
    const refused: number[] = [];
    out.Records!.forEach((r, j) =>
      r.ErrorCode
        ? refused.push(chunk[j])
        : puts.push({
            n: chunk[j],
            shardId: r.ShardId!,
            sequenceNumber: r.SequenceNumber!,
            partitionKey: keyOf(chunk[j]),
            data: data(chunk[j]),
          }),
    );
    todo = [...refused, ...todo.slice(500)];
  }
  return puts;
}

/** Coordinates the accounting understands: the shard's number as partition, the record's place in its shard as offset. */
function coordinates(puts: Put[]): (shardId: string, sequenceNumber: string) => { partition: number; offset: number } {
  const ordinal = new Map<string, number>();
  const byShard = new Map<string, Put[]>();
  for (const p of puts) (byShard.get(p.shardId) ?? byShard.set(p.shardId, []).get(p.shardId)!).push(p);
  for (const [shardId, ps] of byShard)
    ps.sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1)).forEach((p, i) =>
      ordinal.set(`${shardId}:${p.sequenceNumber}`, i),
    );
  return (shardId, sequenceNumber) => ({
    partition: Number(shardId.replace(/^shardId-/, '')),
    offset: ordinal.get(`${shardId}:${sequenceNumber}`) ?? -1,
  });
}

export async function runKinesisScenario(
  scenario: KinesisScenario,
  opts: { n: number; log?: (line: string) => void },
): Promise<Ledger> {
  const started = Date.now();
  const setup = KINESIS_SCENARIO_SETUPS[scenario];
  const stage = await openStage(setup);
  try {
    const { run, resources, puts } = await setUp(stage, scenario, setup, opts);
    await waitFor('a third of the records', () => run.mapping.stats.recordsCommitted >= opts.n / 3 || run.done(), 180_000);
    const seen = (await setup.fault?.(run)) ?? {};
    await waitFor(`all ${opts.n} records checkpointed`, run.done, 600_000);
    const end = await observeEnd(stage, run);
    const counts = account(await observed(stage, resources, puts, end));
    for (const check of setup.checks ?? []) check(run, end);
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

/** What a scenario starts and must stop: its environment (private or shared), clients, functions, mapping and checkpoint folder. */
interface Stage {
  readonly env: te.TestEnv;
  readonly kafka: Kafka;
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly dir: string;
  readonly fns: te.RunningLambda[];
  mapping?: LocalKinesisEventSourceMapping;
  close(): Promise<void>;
}

async function openStage(setup: KinesisScenarioSetup): Promise<Stage> {
  const privateEnv = setup.environment
    ? await te.start({ services: ['kafka', 'dynamodb', 'moto', 'lambdaFront'], ownerPid: process.pid })
    : undefined;
  const env = privateEnv ?? te.loadEnv();
  const stage: Stage = {
    env,
    kafka: new Kafka({
      ...te.kafkaClientConfig('plaintext', undefined, env),
      logLevel: logLevel.NOTHING,
      retry: { retries: 30 },
    }),
    kinesis: new KinesisClient({ ...te.awsClientConfig('kinesis', env), requestHandler: new NodeHttpHandler() }),
    dynamodb: new DynamoDBClient(te.awsClientConfig('dynamodb', env)),
    sqs: new SQSClient(te.awsClientConfig('sqs', env)),
    dir: fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-kinesis-ledger-')),
    fns: [],
    close: async () => {
      await stage.mapping?.stop().catch(() => undefined);
      await Promise.all(stage.fns.map((f) => f.stop().catch(() => undefined)));
      stage.kinesis.destroy();
      stage.dynamodb.destroy();
      stage.sqs.destroy();
      fs.rmSync(stage.dir, { recursive: true, force: true });
      if (privateEnv) await te.stop(privateEnv);
    },
  };
  return stage;
}

/** The scenario's stream, topics, table and queue. */
interface Resources {
  readonly id: string;
  readonly stream: string;
  readonly responseTopic: string;
  readonly errorTopic: string;
  readonly tableName: string;
  readonly queue: { url: string; arn: string };
}

async function createResources(stage: Stage, scenario: KinesisScenario): Promise<Resources> {
  const id = `${scenario}-${randomUUID().slice(0, 8)}`;
  const stream = `e2e-${id}`;
  const responseTopic = `e2e-resp-${id}`;
  const errorTopic = `e2e-err-${id}`;
  await stage.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: KINESIS_SHARDS }));
  await te.createTopic(responseTopic, 4, stage.env);
  await te.createTopic(errorTopic, 1, stage.env);
  const tableName = `e2e-idem-${id}`;
  await createIdempotencyTable(stage.dynamodb, tableName);
  const queue = await createOnFailureQueue(stage.sqs, `e2e-dlq-${id}`);
  return { id, stream, responseTopic, errorTopic, tableName, queue };
}

function dispatcherConfig(env: te.TestEnv, r: Resources, targetName: string, setup: KinesisScenarioSetup): DispatcherConfig {
  return {
    version: 2,
    target: {
      functionName: targetName,
      invocationType: 'RequestResponse',
      payloadFormat: 'confluent',
      recordsPerInvocation: TARGET_BATCH,
      concurrency: 4,
      maxAttempts: 3,
      baseDelayMs: 50,
      maxDelayMs: 500,
      timeoutMs: 30_000,
    },
    onError: 'fail',
    // The dispatcher answers as the mapping expects: partial batch responses, or a function error so that it bisects.
    reportBatchItemFailures: setup.mapping?.reportBatchItemFailures ?? true,
    timeMarginMs: 1_000,
    idempotency: { tableName: r.tableName, mode: 'batched', ttlSeconds: 3600, maxStoredResultBytes: 65536 },
    relay: {
      bootstrapServers: [env.kafka.bootstrap.plaintext],
      auth: 'none',
      tls: false,
      responseTopic: r.responseTopic,
      errorTopic: r.errorTopic,
      clientId: `e2e-${r.id}`,
    },
  };
}

/** Creates what the scenario needs, starts its functions, puts the records and starts the mapping. */
async function setUp(
  stage: Stage,
  scenario: KinesisScenario,
  setup: KinesisScenarioSetup,
  opts: { n: number; log?: (line: string) => void },
): Promise<{ run: KinesisRun; resources: Resources; puts: Put[] }> {
  const { env } = stage;
  const r = await createResources(stage, scenario);
  const targetName = `e2e-target-${r.id}`;
  stage.fns.push(
    await te.startLambda(
      { name: targetName, dir: TARGETS, handler: 'index.echo', timeoutSeconds: 30, env: { ...setup.target?.env } },
      env,
    ),
  );
  const dispatcherName = `e2e-disp-${r.id}`;
  const dispatcher = { name: dispatcherName, config: dispatcherConfig(env, r, targetName, setup), timeoutSeconds: 30 };
  let running = await startDispatcher(dispatcher, env);
  stage.fns.push(running);
  const data = (n: number) =>
    JSON.stringify({ n, canary: CANARY, ...(setup.records === 'poison' && isPoison(n) ? { poison: true } : {}) });
  const puts = await putAll(stage.kinesis, r.stream, data, opts.n);
  const lastOfShard = new Map<string, bigint>();
  for (const p of puts)
    if (BigInt(p.sequenceNumber) > (lastOfShard.get(p.shardId) ?? -1n)) lastOfShard.set(p.shardId, BigInt(p.sequenceNumber));
  const options = mappingOptions(stage, r, dispatcherName, setup, (l) => opts.log?.(`  [${scenario}] ${l}`));
  const startMapping = async () => {
    const m = new LocalKinesisEventSourceMapping(options);
    stage.mapping = m;
    await m.start();
  };
  await startMapping();
  const run: KinesisRun = {
    env,
    targets: [targetName],
    dispatcherName,
    get mapping() {
      return stage.mapping!;
    },
    /** Every shard checkpointed at its last record. */
    done: () =>
      [...lastOfShard].every(([shardId, last]) => {
        const c = stage.mapping!.stats.shards[shardId]?.checkpoint;
        return c !== undefined && BigInt(c) >= last;
      }),
    stopDispatcher: () => running.stop(),
    startDispatcher: async () => {
      running = await startDispatcher(dispatcher, env);
      stage.fns.push(running);
    },
    killMapping: async () => {
      await stage.mapping!.kill();
      const checkpoints = Object.fromEntries(
        Object.entries<any>(JSON.parse(fs.readFileSync(options.checkpointFile!, 'utf8')).shards).map(([s, c]) => [
          s,
          c.sequenceNumber,
        ]),
      );
      run.killed = { checkpoints, at: Date.now() };
    },
    startMapping,
  };
  return { run, resources: r, puts };
}

function mappingOptions(
  stage: Stage,
  r: Resources,
  dispatcherName: string,
  setup: KinesisScenarioSetup,
  log: (line: string) => void,
): LocalKinesisEsmOptions {
  const { env } = stage;
  return {
    stream: r.stream,
    kinesisEndpoint: env.moto.endpoint,
    awsEndpoint: env.moto.endpoint,
    region: env.region,
    startingPosition: 'TRIM_HORIZON',
    batchSize: KINESIS_ESM_BATCH,
    maxBatchingWindowSeconds: 0,
    parallelizationFactor: KINESIS_PARALLELIZATION,
    bisectBatchOnFunctionError: true,
    reportBatchItemFailures: setup.mapping?.reportBatchItemFailures ?? true,
    retryAttempts: setup.mapping?.retryAttempts ?? -1,
    onFailure: r.queue.arn,
    checkpointFile: path.join(stage.dir, 'checkpoints.json'),
    functionName: dispatcherName,
    lambdaEndpoint: env.lambda.endpoint,
    retryDelayMs: 300,
    pollIntervalMs: 200,
    log,
  };
}

/** What the Lambda front holds once every shard is checkpointed. */
async function observeEnd(stage: Stage, run: KinesisRun): Promise<KinesisEnd> {
  const [targetName] = run.targets;
  const invocations = await te.listInvocations(targetName, stage.env);
  return {
    target: await te.lambdaStats(targetName, stage.env),
    dispatcher: await te.lambdaStats(run.dispatcherName, stage.env),
    invocations,
    targetFailures: failedInvocations(invocations),
    dispatcherCalls: await te.listInvocations(run.dispatcherName, stage.env),
  };
}

/** The ledger's view: what the pipeline's ends hold, in the coordinates of the records put. */
async function observed(stage: Stage, r: Resources, puts: Put[], end: KinesisEnd): Promise<Observed> {
  const at = coordinates(puts);
  const failedRanges = (await drainQueue(stage.sqs, r.queue.url)).map((b) => {
    const info = b.KinesisBatchInfo;
    return {
      partition: at(info.shardId, info.startSequenceNumber).partition,
      first: at(info.shardId, info.startSequenceNumber).offset,
      last: at(info.shardId, info.endSequenceNumber).offset,
    };
  });
  const errors = (await readErrorRecords(stage.kafka, r.errorTopic)).map(({ key: k, value: v }) => {
    const start = at(k.partition, String(k.startOffset));
    return {
      partition: start.partition,
      startOffset: start.offset,
      endOffset: start.offset + (v.records?.length ?? 0),
      records: (v.records ?? []).map((x: any) => ({ ...x, offset: at(k.partition, String(x.offset)).offset })),
    };
  });
  return {
    source: puts.map((p) => ({
      ...at(p.shardId, p.sequenceNumber),
      n: p.n,
      key: Buffer.from(p.partitionKey).toString('base64'),
      value: Buffer.from(p.data).toString('base64'),
    })),
    responses: (await readAll(stage.kafka, r.responseTopic)).map((msg) => {
      const k = JSON.parse(msg.key);
      return { ...at(k.partition, k.offset), hasResult: hasResult(msg.value) };
    }),
    errors,
    failedRanges,
    invocations: end.invocations.map((inv) =>
      (JSON.parse(inv.payload) as any[]).map((e) => at(e.payload.partition, e.payload.offset)),
    ),
  };
}
