/**
 * The fault ledger for Kinesis: N records put on a 4-shard stream (moto) → the local Kinesis event source mapping
 * (two batches per shard at once, checkpoints in a file) → the dispatcher bundle (Lambda emulator) → target (Lambda
 * emulator) → response topic, idempotency in DynamoDB Local, the on-failure queue on moto. One fault per scenario;
 * the same accounting as the Kafka ledger, with a record's shard as its partition and its place in the shard as its offset.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig, IDEMPOTENCY_PARTITION_KEY } from '../contract/dispatcher-config';
import { LocalKinesisEsmOptions, LocalKinesisEventSourceMapping } from '../cli/kinesis/esm';
import { account, Ledger } from './accounting';
import { CANARY, DISPATCHER, isPoison, TARGET_BATCH, TARGETS } from './workload';
import { countLines, drainQueue, hasResult, readAll, sleep, waitFor } from './observe';

export const KINESIS_SCENARIOS = [
  'kinesis-steady', 'kinesis-poison-bisect', 'kinesis-target-throttling', 'kinesis-dispatcher-killed', 'kinesis-emulator-restart', 'kinesis-dynamodb-restart',
] as const;
export type KinesisScenario = typeof KINESIS_SCENARIOS[number];

export const KINESIS_SHARDS = 4;
export const KINESIS_ESM_BATCH = 100;
export const KINESIS_PARALLELIZATION = 2;

/** 64 partition keys: spread over the shards, each with many records whose order the ledger checks. */
const keyOf = (n: number) => `k${n % 64}`;

interface Put { n: number; shardId: string; sequenceNumber: string; partitionKey: string; data: string }

/** Puts the records 500 at a time, again for any the stream refused, and returns where each went. */
async function putAll(kinesis: KinesisClient, stream: string, data: (n: number) => string, n: number): Promise<Put[]> {
  const puts: Put[] = [];
  let todo = Array.from({ length: n }, (_, i) => i);
  while (todo.length) {
    const chunk = todo.slice(0, 500);
    const out = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: chunk.map((i) => ({ PartitionKey: keyOf(i), Data: Buffer.from(data(i)) })) }));
    const refused: number[] = [];
    out.Records!.forEach((r, j) => (r.ErrorCode ? refused.push(chunk[j]) : puts.push({ n: chunk[j], shardId: r.ShardId!, sequenceNumber: r.SequenceNumber!, partitionKey: keyOf(chunk[j]), data: data(chunk[j]) })));
    todo = [...refused, ...todo.slice(500)];
  }
  return puts;
}

/** Coordinates the accounting understands: the shard's number as partition, the record's place in its shard as offset. */
function coordinates(puts: Put[]): (shardId: string, sequenceNumber: string) => { partition: number; offset: number } {
  const ordinal = new Map<string, number>();
  const byShard = new Map<string, Put[]>();
  for (const p of puts) (byShard.get(p.shardId) ?? byShard.set(p.shardId, []).get(p.shardId)!).push(p);
  for (const [shardId, ps] of byShard) ps.sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1)).forEach((p, i) => ordinal.set(`${shardId}:${p.sequenceNumber}`, i));
  return (shardId, sequenceNumber) => ({ partition: Number(shardId.replace(/^shardId-/, '')), offset: ordinal.get(`${shardId}:${sequenceNumber}`) ?? -1 });
}

export async function runKinesisScenario(scenario: KinesisScenario, opts: { n: number; log?: (line: string) => void }): Promise<Ledger> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const privateEnv = scenario === 'kinesis-dynamodb-restart' ? await te.start({ services: ['kafka', 'dynamodb', 'moto', 'lambdaFront'], ownerPid: process.pid }) : undefined;
  const env = privateEnv ?? te.loadEnv();
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext', undefined, env), logLevel: logLevel.NOTHING, retry: { retries: 30 } });
  const kinesis = new KinesisClient({ ...te.awsClientConfig('kinesis', env), requestHandler: new NodeHttpHandler() });
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', env));
  const sqs = new SQSClient(te.awsClientConfig('sqs', env));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-kinesis-ledger-'));
  const fns: te.RunningLambda[] = [];
  let esm: LocalKinesisEventSourceMapping | undefined;
  try {
    const id = `${scenario}-${randomUUID().slice(0, 8)}`;
    const stream = `e2e-${id}`; const responseTopic = `e2e-resp-${id}`; const errorTopic = `e2e-err-${id}`;
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: KINESIS_SHARDS }));
    await te.createTopic(responseTopic, 4, env);
    await te.createTopic(errorTopic, 1, env);
    const tableName = `e2e-idem-${id}`;
    await dynamodb.send(new CreateTableCommand({ TableName: tableName, BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: IDEMPOTENCY_PARTITION_KEY, KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_PARTITION_KEY, AttributeType: 'S' }] }));
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `e2e-dlq-${id}` }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;

    const poisoned = scenario === 'kinesis-poison-bisect';
    const targetName = `e2e-target-${id}`;
    // Target calls that last, so the fault finds one in flight.
    const slow = ['kinesis-dispatcher-killed', 'kinesis-emulator-restart', 'kinesis-dynamodb-restart'].includes(scenario);
    fns.push(await te.startLambda({ name: targetName, dir: TARGETS, handler: 'index.echo', timeoutSeconds: 30, env: { ...(poisoned ? { POISON: '1' } : {}), ...(slow ? { DELAY_MS: '300' } : {}) } }, env));
    const config: DispatcherConfig = {
      version: 1,
      target: { functionName: targetName, invocationType: 'RequestResponse', payloadFormat: 'confluent', recordsPerInvocation: TARGET_BATCH, concurrency: 4, maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500, timeoutMs: 30_000 },
      onError: 'fail',
      // Poison: a function error, so the mapping bisects; otherwise partial batch responses, as KinesisTrigger deploys it.
      reportBatchItemFailures: !poisoned,
      timeMarginMs: 1_000,
      idempotency: { tableName, mode: 'batched', ttlSeconds: 3600, maxResultBytes: 65536 },
      relay: { bootstrapServers: [env.kafka.bootstrap.plaintext], auth: 'none', tls: false, responseTopic, errorTopic, clientId: `e2e-${id}` },
    };
    const dispatcherName = `e2e-disp-${id}`;
    const startDispatcher = async () => {
      const fn = await te.startLambda({ name: dispatcherName, dir: DISPATCHER, timeoutSeconds: 30, memoryMb: 512, env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(config), POWERTOOLS_SERVICE_NAME: 'e2e' } }, env);
      fns.push(fn);
      return fn;
    };
    let dispatcher = await startDispatcher();

    const data = (n: number) => JSON.stringify({ n, canary: CANARY, ...(poisoned && isPoison(n) ? { poison: true } : {}) });
    const puts = await putAll(kinesis, stream, data, opts.n);
    const lastOfShard = new Map<string, bigint>();
    for (const p of puts) if (BigInt(p.sequenceNumber) > (lastOfShard.get(p.shardId) ?? -1n)) lastOfShard.set(p.shardId, BigInt(p.sequenceNumber));

    const checkpointFile = path.join(dir, 'checkpoints.json');
    const mappingOptions: LocalKinesisEsmOptions = {
      stream, kinesisEndpoint: env.moto.endpoint, awsEndpoint: env.moto.endpoint, region: env.region, startingPosition: 'TRIM_HORIZON',
      batchSize: KINESIS_ESM_BATCH, maxBatchingWindowSeconds: 0, parallelizationFactor: KINESIS_PARALLELIZATION, bisectBatchOnFunctionError: true,
      reportBatchItemFailures: !poisoned, retryAttempts: poisoned ? 2 : -1, onFailure: queueArn, checkpointFile,
      functionName: dispatcherName, lambdaEndpoint: env.lambda.endpoint, retryDelayMs: 300, pollIntervalMs: 200,
      log: (l) => log(`  [${scenario}] ${l}`),
    };
    const startMapping = async () => { const m = new LocalKinesisEventSourceMapping(mappingOptions); esm = m; await m.start(); return m; };
    let m = await startMapping();
    /** Every shard checkpointed at its last record. */
    const done = () => [...lastOfShard].every(([shardId, last]) => { const c = m.stats.shards[shardId]?.checkpoint; return c !== undefined && BigInt(c) >= last; });
    const dispatcherCalls = () => te.listInvocations(dispatcherName, env);
    const inFlight = async (name: string) => (await te.listInvocations(name, env)).some((i) => i.doneAt === undefined);

    await waitFor('a third of the records', () => m.stats.recordsCommitted >= opts.n / 3 || done(), 180_000);
    let faultHits = (_a: { target: te.LambdaStats; dispatcher: te.LambdaStats; targetFailures: number }) => 0;
    let faultCounted = 'none';
    let behindCheckpoint: Record<string, string> | undefined;
    let restartedAt = 0;
    switch (scenario) {
      case 'kinesis-poison-bisect':
        faultHits = (a) => a.targetFailures;
        faultCounted = 'target invocations that failed, as the Lambda front answered them';
        break;
      case 'kinesis-target-throttling':
        await te.throttleLambda(targetName, 30, env);
        faultHits = (a) => a.target.throttled;
        faultCounted = 'TooManyRequestsException answers of the Lambda front';
        break;
      case 'kinesis-dispatcher-killed':
        await waitFor('a target invocation in flight', async () => (await inFlight(targetName)) || done(), 30_000);
        await dispatcher.stop();
        await sleep(1_000);
        dispatcher = await startDispatcher();
        faultHits = (a) => a.dispatcher.killedInFlight;
        faultCounted = 'invocations in flight when the dispatcher was killed';
        break;
      case 'kinesis-emulator-restart': {
        // Killed like a crashed process while the dispatcher is at work, then started again on the same checkpoint file.
        await waitFor('a dispatcher invocation in flight', async () => (await inFlight(dispatcherName)) || done(), 30_000);
        const killedAt = Date.now();
        await m.kill();
        behindCheckpoint = Object.fromEntries(Object.entries<any>(JSON.parse(fs.readFileSync(checkpointFile, 'utf8')).shards).map(([s, c]) => [s, c.sequenceNumber]));
        restartedAt = Date.now();
        const caught = (await dispatcherCalls()).filter((i) => i.at < killedAt && (i.doneAt === undefined || i.doneAt > killedAt)).length;
        m = await startMapping();
        faultHits = () => caught;
        faultCounted = 'dispatcher invocations in flight when the mapping was killed (their answers were dropped)';
        break;
      }
      case 'kinesis-dynamodb-restart': {
        await waitFor('a target invocation in flight', async () => (await inFlight(targetName)) || done(), 30_000);
        const stoppedAt = Date.now();
        await te.stopService('dynamodb', env); await sleep(2_000); await te.startService('dynamodb', env);
        const failed = (i: te.InvocationRecord) => !!i.functionError || /"batchItemFailures":\[\{/.test(i.response ?? '');
        let hits = 0;
        faultHits = () => hits;
        faultCounted = 'dispatcher invocations from the outage on that failed or reported failed records (the Lambda front\'s answers)';
        await waitFor(`all ${opts.n} records checkpointed`, done, 600_000);
        hits = (await dispatcherCalls()).filter((i) => (i.doneAt ?? Infinity) >= stoppedAt && failed(i)).length;
        break;
      }
      default: break;
    }
    await waitFor(`all ${opts.n} records checkpointed`, done, 600_000);

    // The ledger: what the pipeline's ends hold.
    const at = coordinates(puts);
    const invocations = await te.listInvocations(targetName, env);
    const after = { target: await te.lambdaStats(targetName, env), dispatcher: await te.lambdaStats(dispatcherName, env),
      targetFailures: invocations.filter((i) => i.functionError || (i.status !== undefined && i.status >= 400)).length };
    const failedRanges = (await drainQueue(sqs, queueUrl)).map((b) => {
      const info = b.KinesisBatchInfo;
      return { partition: at(info.shardId, info.startSequenceNumber).partition, first: at(info.shardId, info.startSequenceNumber).offset, last: at(info.shardId, info.endSequenceNumber).offset };
    });
    const errors = (await readAll(kafka, errorTopic)).map((msg) => {
      const k = JSON.parse(msg.key); const v = JSON.parse(msg.value.toString('utf8'));
      const start = at(k.partition, String(k.startOffset));
      return { partition: start.partition, startOffset: start.offset, endOffset: start.offset + (v.records?.length ?? 0), records: (v.records ?? []).map((r: any) => ({ ...r, offset: at(k.partition, String(r.offset)).offset })) };
    });
    const counts = account({
      source: puts.map((p) => ({ ...at(p.shardId, p.sequenceNumber), n: p.n, key: Buffer.from(p.partitionKey).toString('base64'), value: Buffer.from(p.data).toString('base64') })),
      responses: (await readAll(kafka, responseTopic)).map((msg) => { const k = JSON.parse(msg.key); return { ...at(k.partition, k.offset), hasResult: hasResult(msg.value) }; }),
      errors, failedRanges,
      invocations: invocations.map((inv) => (JSON.parse(inv.payload) as any[]).map((e) => at(e.payload.partition, e.payload.offset))),
    });
    if (behindCheckpoint) {
      // A restart resumes: nothing the killed mapping had checkpointed reaches the dispatcher again.
      const replayed = (await dispatcherCalls()).filter((i) => i.at >= restartedAt).flatMap((i) => JSON.parse(i.payload).Records as any[])
        .filter((r) => { const c = behindCheckpoint![r.eventID.split(':')[0]]; return c !== undefined && BigInt(r.kinesis.sequenceNumber) <= BigInt(c); });
      if (replayed.length) throw new Error(`kinesis-emulator-restart: ${replayed.length} checkpointed record(s) delivered again after the restart, e.g. ${replayed[0].eventID}`);
    }
    if (scenario !== 'kinesis-poison-bisect') {
      const unordered = outOfKeyOrder(invocations);
      if (unordered.length) throw new Error(`${scenario}: ${unordered.slice(0, 5).join('; ')}`);
    }
    const canaryInLogs = fns.filter((f) => f.name === dispatcherName).reduce((a, f) => a + countLines(f.logFile, CANARY), 0);
    return { scenario, ...counts, failedTargetInvocations: after.targetFailures, faultHits: faultHits(after), faultCounted, canaryInLogs, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    await esm?.stop().catch(() => undefined);
    await Promise.all(fns.map((f) => f.stop().catch(() => undefined)));
    kinesis.destroy(); dynamodb.destroy(); sqs.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    if (privateEnv) await te.stop(privateEnv);
  }
}

/**
 * A partition key's records reaching the target out of sequence order (with ParallelizationFactor > 1 only a key's
 * records keep their order); a record seen again after a retry is not counted again.
 */
function outOfKeyOrder(invocations: te.InvocationRecord[]): string[] {
  const wrong: string[] = [];
  const seen = new Set<string>();
  const lastOfKey = new Map<string, bigint>();
  for (const inv of [...invocations].sort((a, b) => a.at - b.at)) {
    for (const { payload: p } of JSON.parse(inv.payload) as any[]) {
      if (seen.has(`${p.partition}:${p.offset}`)) continue;
      seen.add(`${p.partition}:${p.offset}`);
      const key = JSON.stringify(p.key);
      const seq = BigInt(p.offset);
      if ((lastOfKey.get(key) ?? -1n) > seq) wrong.push(`key ${key}: ${p.partition}@${p.offset} after ${lastOfKey.get(key)}`);
      lastOfKey.set(key, seq);
    }
  }
  return wrong;
}
