/**
 * A local stand-in for the AWS-managed Kinesis event source mapping (standard iterators): polls each shard of a
 * real Kinesis API with GetShardIterator/GetRecords, invokes the function with the aws:kinesis event through the
 * Lambda Invoke API or a handler module in-process, up to ParallelizationFactor batches per shard at once (a
 * partition key's records in order), retries and bisects failed batches, sends what cannot be processed to an
 * SQS, SNS or S3 on-failure destination, and checkpoints each shard in a file so a restart resumes.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
 */
import * as path from 'node:path';
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetRecordsCommandOutput,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  Shard,
  ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ESM_LIMITS } from '../../contract/esm-limits';
import { localAwsSettings } from '../aws';
import { CheckpointFile, ShardCheckpoint } from './checkpoint';
import { BatchDelivery, DeliveryStats, sleep, StoppedError, validateMappingOptions } from '../delivery';
import { onFailureDestination, OnFailureDestination } from '../destination';
import { LocalEsmConfigError } from '../errors';
import { MAX_PAYLOAD_BYTES, payloadBytes } from '../kafka/event';
import { createInvoker, Invoker, InvokerOptions } from '../invoker';
import {
  buildKinesisEvent,
  kinesisOnFailureRecord,
  kinesisPartialFailures,
  ShardRecord,
  StreamIdentity,
  toShardRecord,
} from './event';
import { Lane, ShardEntry, ShardState } from './shard';
import type { StartingPosition } from '../kafka/esm';

export interface LocalKinesisEsmOptions extends InvokerOptions {
  /** Stream name or ARN. */
  readonly stream: string;
  /** The Kinesis API endpoint. @default - the AWS endpoint of the region */
  readonly kinesisEndpoint?: string;
  /** @default 'TRIM_HORIZON' */
  readonly startingPosition?: StartingPosition;
  /** Epoch milliseconds, for AT_TIMESTAMP. */
  readonly startingPositionTimestamp?: number;
  /** @default 100 */
  readonly batchSize?: number;
  /** @default 0 */
  readonly maxBatchingWindowSeconds?: number;
  /** Batches per shard at once, 1–10. @default 1 */
  readonly parallelizationFactor?: number;
  /** @default -1 */
  readonly retryAttempts?: number;
  /** @default -1 */
  readonly maximumRecordAgeSeconds?: number;
  /** @default false */
  readonly bisectBatchOnFunctionError?: boolean;
  /** @default false */
  readonly reportBatchItemFailures?: boolean;
  /** SQS, SNS or S3 ARN. @default - failed batches are logged and skipped */
  readonly onFailure?: string;
  /** Endpoint of the on-failure destination's client. */
  readonly awsEndpoint?: string;
  /** @default - .cdk-kafka-lambda/kinesis-<stream>-<function>.json in the working directory */
  readonly checkpointFile?: string;
  /** Wait between polls of a shard that returned nothing, ms (Lambda polls once a second). @default 1000 */
  readonly pollIntervalMs?: number;
  /** @default 500 */
  readonly retryDelayMs?: number;
  readonly log?: (line: string) => void;
}

export interface LocalKinesisEsmStats extends DeliveryStats {
  recordsRead: number;
  /** Records behind a checkpoint: succeeded, or sent to the on-failure destination. */
  recordsCommitted: number;
  /** Per shard id: the last checkpointed sequence number, and the iterator age (ms) of the last batch done. */
  shards: Record<string, { checkpoint?: string; iteratorAgeMs: number; ended: boolean }>;
}

export function validateKinesisOptions(o: LocalKinesisEsmOptions): void {
  if (!o.stream) throw new LocalEsmConfigError('stream: a stream name or ARN is required');
  validateMappingOptions(o, { maxBatchingWindowSeconds: 0 });
  const pf = o.parallelizationFactor ?? 1;
  if (!Number.isInteger(pf) || pf < ESM_LIMITS.parallelizationFactor[0] || pf > ESM_LIMITS.parallelizationFactor[1])
    throw new LocalEsmConfigError(
      `parallelizationFactor must be an integer from ${ESM_LIMITS.parallelizationFactor[0]} to ${ESM_LIMITS.parallelizationFactor[1]}, got ${pf}`,
    );
  if (o.onFailure && !/^arn:[^:]+:(sqs|sns|s3):/.test(o.onFailure))
    throw new LocalEsmConfigError(`onFailure of a Kinesis mapping must be an SQS, SNS or S3 ARN, got "${o.onFailure}"`);
}

export class LocalKinesisEventSourceMapping {
  public readonly stats: LocalKinesisEsmStats = {
    invocations: 0,
    failedInvocations: 0,
    throttledInvocations: 0,
    onFailureRecords: 0,
    recordsSentToOnFailure: 0,
    recordsRead: 0,
    recordsCommitted: 0,
    shards: {},
  };
  /** The options, with their defaults. */
  private readonly settings: LocalKinesisEsmOptions &
    Required<
      Pick<
        LocalKinesisEsmOptions,
        | 'batchSize'
        | 'maxBatchingWindowSeconds'
        | 'parallelizationFactor'
        | 'retryAttempts'
        | 'maximumRecordAgeSeconds'
        | 'pollIntervalMs'
        | 'retryDelayMs'
      >
    >;
  private readonly kinesis: KinesisClient;
  private readonly log: (line: string) => void;
  private readonly shards = new Map<string, ShardState>();
  private readonly workers: Promise<void>[] = [];
  private checkpoints: Record<string, ShardCheckpoint> = {};
  private store?: CheckpointFile;
  private invoker?: Invoker;
  private destination?: OnFailureDestination;
  private delivery?: BatchDelivery<ShardRecord>;
  private id?: StreamIdentity;
  private running = false;
  private killed = false;

  constructor(options: LocalKinesisEsmOptions) {
    validateKinesisOptions(options);
    this.settings = {
      batchSize: 100,
      maxBatchingWindowSeconds: 0,
      parallelizationFactor: 1,
      retryAttempts: -1,
      maximumRecordAgeSeconds: -1,
      pollIntervalMs: 1000,
      retryDelayMs: 500,
      ...options,
    };
    // HTTP/1.1: GetRecords needs no HTTP/2, and emulators (moto) answer only HTTP/1.1.
    this.kinesis = new KinesisClient({
      ...localAwsSettings(options.kinesisEndpoint, options.region),
      requestHandler: new NodeHttpHandler(),
      maxAttempts: 5,
    });
    this.log = options.log ?? ((l) => process.stderr.write(`${l}\n`));
    const fn = options.functionName?.split(':').pop() ?? 'local';
    this.checkpointFile = path.resolve(
      options.checkpointFile ?? path.join('.cdk-kafka-lambda', `kinesis-${options.stream.split('/').pop()}-${fn}.json`),
    );
  }

  /** The checkpoint file: given, or named after the stream and the function, in the working directory. */
  public readonly checkpointFile: string;

  async start(): Promise<void> {
    const stream = this.settings.stream.startsWith('arn:')
      ? { StreamARN: this.settings.stream }
      : { StreamName: this.settings.stream };
    let streamArn: string;
    try {
      streamArn = (await this.kinesis.send(new DescribeStreamSummaryCommand(stream))).StreamDescriptionSummary!.StreamARN!;
    } catch (e) {
      throw new LocalEsmConfigError(`stream ${this.settings.stream}: ${(e as Error).name}: ${(e as Error).message}`);
    }
    const region = /^arn:[^:]+:kinesis:([^:]+):/.exec(streamArn)?.[1] ?? this.settings.region ?? 'us-east-1';
    const account = /^arn:[^:]+:kinesis:[^:]+:([^:]+):/.exec(streamArn)?.[1] ?? '000000000000';
    this.id = { streamArn, region, invokeIdentityArn: `arn:aws:iam::${account}:role/cdk-kafka-lambda-local` };
    this.invoker = createInvoker(this.settings);
    const streamName = streamArn.slice(streamArn.lastIndexOf('/') + 1);
    this.store = new CheckpointFile(this.checkpointFile, streamArn, this.invoker.functionArn);
    this.checkpoints = this.store.load();
    if (this.settings.onFailure)
      this.destination = onFailureDestination(
        this.settings.onFailure,
        { endpoint: this.settings.awsEndpoint, region: this.settings.region },
        () => Promise.reject(new Error('no Kafka destination for Kinesis')),
      );
    const id = this.id;
    const functionArn = this.invoker.functionArn;
    this.delivery = new BatchDelivery<ShardRecord>(
      {
        event: buildKinesisEvent,
        partialFailures: kinesisPartialFailures,
        timestamp: (r) => r.arrivalMs,
        where: (rs) => `${streamName}/${rs[0].shardId}@${rs[0].sequenceNumber}-${rs[rs.length - 1].sequenceNumber}`,
        onFailureRecord: (a) => kinesisOnFailureRecord({ ...a, id, functionArn }),
        // As Lambda documents: a partial batch response is retried from the reported record, a function error bisected.
        bisectPartialFailures: false,
        expiredCondition: 'RecordAgeExceeded',
        expireBeforeInvoke: true,
      },
      this.invoker,
      this.settings,
      this.destination,
      this.stats,
      () => this.running,
      this.log,
      () => this.killed,
    );
    this.running = true;
    await this.startShards();
  }

  /** Stops polling; a batch in flight is finished and checkpointed. */
  async stop(): Promise<void> {
    if (!this.running && this.workers.length === 0) return;
    this.running = false;
    for (const s of this.shards.values()) {
      s.wake.notify();
      for (const l of s.lanes) l.wake.notify();
    }
    await Promise.allSettled(this.workers);
    this.workers.length = 0;
    await this.saveCheckpoints().catch((e) => this.log(`checkpoint file ${this.store?.file}: ${(e as Error).message}`));
    await this.destination?.close();
    this.invoker?.close();
    this.kinesis.destroy();
  }

  /** Stops as a crash would: answers of invocations in flight are not acted on, their records are not checkpointed. */
  async kill(): Promise<void> {
    this.killed = true;
    await this.stop();
  }

  /** Starts every shard not started yet whose parents are done (Lambda reads a child shard after its parents). */
  private async startShards(): Promise<void> {
    const listed: Shard[] = [];
    let NextToken: string | undefined;
    do {
      const out = await this.kinesis.send(new ListShardsCommand(NextToken ? { NextToken } : { StreamARN: this.id!.streamArn }));
      listed.push(...(out.Shards ?? []));
      NextToken = out.NextToken;
    } while (NextToken);
    const ids = new Set(listed.map((s) => s.ShardId!));
    const ended = (shardId: string) => this.checkpoints[shardId]?.ended === true || this.shards.get(shardId)?.ended === true;
    for (const shard of listed) {
      const shardId = shard.ShardId!;
      if (this.shards.has(shardId) || ended(shardId)) continue;
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => !!p && ids.has(p));
      if (!parents.every(ended)) continue;
      const state = new ShardState(shardId, this.settings.parallelizationFactor, this.checkpoints[shardId]?.sequenceNumber);
      this.shards.set(shardId, state);
      this.stats.shards[shardId] = { checkpoint: state.checkpoint, iteratorAgeMs: 0, ended: false };
      // The first iterator before start() resolves: with LATEST, records put after that are read.
      const first = await this.iterator(state, parents.length > 0);
      this.workers.push(this.readShard(state, parents.length > 0, first));
      for (const lane of state.lanes) this.workers.push(this.runLane(state, lane));
    }
  }

  private async iterator(s: ShardState, child: boolean, afterRead?: string): Promise<string> {
    const after = afterRead ?? s.checkpoint;
    const type: ShardIteratorType = after
      ? 'AFTER_SEQUENCE_NUMBER'
      : child
        ? 'TRIM_HORIZON'
        : (this.settings.startingPosition ?? 'TRIM_HORIZON');
    const out = await this.kinesis.send(
      new GetShardIteratorCommand({
        StreamARN: this.id!.streamArn,
        ShardId: s.shardId,
        ShardIteratorType: type,
        ...(after ? { StartingSequenceNumber: after } : {}),
        ...(type === 'AT_TIMESTAMP' ? { Timestamp: new Date(this.settings.startingPositionTimestamp!) } : {}),
      }),
    );
    return out.ShardIterator!;
  }

  /** Reads the shard ahead of its lanes, up to a bound of records not yet done. */
  private async readShard(s: ShardState, child: boolean, first: string): Promise<void> {
    const readAhead = Math.min(20_000, Math.max(1_000, 2 * this.settings.batchSize * this.settings.parallelizationFactor));
    let iterator: string | undefined = first;
    let lastRead: string | undefined;
    for (let failures = 0; this.running;) {
      if (s.unfinished >= readAhead) {
        await s.wake.wait(1_000);
        continue;
      }
      try {
        iterator ??= await this.iterator(s, child, lastRead);
        const out: GetRecordsCommandOutput = await this.kinesis.send(
          new GetRecordsCommand({
            ShardIterator: iterator,
            StreamARN: this.id!.streamArn,
            Limit: Math.min(10_000, readAhead - s.unfinished),
          }),
        );
        failures = 0;
        if (!this.running) return;
        const records = (out.Records ?? []).map((r) => toShardRecord(this.id!, s.shardId, r));
        if (records.length) {
          lastRead = records[records.length - 1].sequenceNumber;
          this.stats.recordsRead += records.length;
          s.add(records);
        }
        iterator = out.NextShardIterator;
        if (!iterator) {
          s.closed = true;
          for (const l of s.lanes) l.wake.notify();
          return;
        }
        if (records.length === 0) {
          if (s.unfinished === 0) this.stats.shards[s.shardId].iteratorAgeMs = s.iteratorAgeMs = out.MillisBehindLatest ?? 0;
          await s.wake.wait(this.settings.pollIntervalMs);
        }
      } catch (e) {
        if (!this.running) return;
        const err = e as Error;
        if (err.name === 'ExpiredIteratorException') iterator = undefined; // a new one after the last record read
        this.log(
          `GetRecords of ${this.id!.streamArn}/${s.shardId}${lastRead ? `@${lastRead}` : ''} failed (${err.name}: ${err.message}); retrying`,
        );
        await sleep(Math.min(5_000, 200 * 2 ** failures++));
      }
    }
  }

  /** One of the shard's ParallelizationFactor lanes: batches of its partition keys, one at a time, in order. */
  private async runLane(s: ShardState, lane: Lane): Promise<void> {
    const windowMs = this.settings.maxBatchingWindowSeconds * 1000;
    while (this.running) {
      if (lane.queue.length === 0) {
        if (s.closed) break;
        await lane.wake.wait(1_000);
        continue;
      }
      const batch = this.take(lane);
      const full = lane.queue.length > 0 || batch.length === this.settings.batchSize;
      const windowLeft = lane.queue.length === 0 && !full && !s.closed ? batch[0].queuedAt + windowMs - Date.now() : 0;
      if (windowLeft > 0) {
        lane.queue.unshift(...batch);
        await lane.wake.wait(windowLeft);
        continue;
      }
      const entries: ShardEntry[] = batch.map((b) => b.entry);
      try {
        await this.delivery!.deliver(entries.map((e) => e.record));
      } catch (e) {
        if (!(e instanceof StoppedError))
          this.log(`batch of ${s.shardId}@${entries[0].record.sequenceNumber} stopped: ${(e as Error).message}`);
        return;
      }
      this.stats.recordsCommitted += entries.length;
      if (s.done(entries)) {
        this.stats.shards[s.shardId].checkpoint = s.checkpoint;
        await this.saveCheckpoints().catch((e) =>
          this.log(`checkpoint file ${this.store!.file}: ${(e as Error).message}; retried with the next batch`),
        );
      }
      this.stats.shards[s.shardId].iteratorAgeMs = s.iteratorAgeMs;
    }
    if (this.running && s.ended && s.lanes.every((l) => l.queue.length === 0)) await this.endShard(s);
  }

  private async endShard(s: ShardState): Promise<void> {
    if (this.stats.shards[s.shardId].ended) return;
    this.stats.shards[s.shardId].ended = true;
    this.log(`${this.id!.streamArn}/${s.shardId} ended at ${s.checkpoint ?? 'its start'}`);
    await this.saveCheckpoints();
    await this.startShards();
  }

  /** The next batch: at most batchSize records whose event stays under 6 MB. */
  private take(lane: Lane): Lane['queue'] {
    let size = payloadBytes(buildKinesisEvent([]));
    let n = 0;
    for (; n < lane.queue.length && n < this.settings.batchSize; n++) {
      const s = Buffer.byteLength(JSON.stringify(lane.queue[n].entry.record.raw)) + 1;
      if (n > 0 && size + s > MAX_PAYLOAD_BYTES) break;
      size += s;
    }
    return lane.queue.splice(0, n);
  }

  private saveCheckpoints(): Promise<void> {
    for (const [shardId, s] of this.shards)
      this.checkpoints[shardId] = {
        ...(s.checkpoint ? { sequenceNumber: s.checkpoint } : {}),
        ...(s.ended ? { ended: true } : {}),
      };
    return this.store ? this.store.save(this.checkpoints) : Promise.resolve();
  }
}
