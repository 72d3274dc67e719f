/**
 * A local stand-in for the AWS-managed Kafka event source mapping: a kafkajs consumer group that builds
 * the ESM event, invokes a function through the Lambda Invoke API or a handler module in-process, commits
 * offsets only after success, retries failed batches (bisecting when enabled) and sends what cannot be
 * processed to an on-failure destination in the format Lambda documents (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html).
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { Admin, Kafka, KafkaConfig, KafkaMessage, logLevel, Producer, Consumer, EachBatchPayload, ISocketFactory } from 'kafkajs';
import {
  buildEvent,
  EsmRecord,
  EventSourceIdentity,
  MAX_PAYLOAD_BYTES,
  onFailureRecord,
  payloadBytes,
  toEsmRecord,
} from './event';
import { onFailureDestination, OnFailureDestination } from '../destination';
import { BatchDelivery, sleep, validateMappingOptions } from '../delivery';
import { createInvoker, Invoker } from '../invoker';
import { LocalEsmConfigError } from '../errors';
import { recordFilter } from './filter';
import { RecordSchemaValidator, SchemaRegistryUnreachableError, ValidRecord } from './schemas';
import { connectRegistry, RegistryConnection, SchemaRegistrySettings, validateSchemaRegistry } from './schemas-config';
import { adminProbe, BehindPartition, StallWatch } from './stall';

// kafkajs' own socket factory (TCP or TLS, keep-alive), for configurations that do not bring theirs.
const defaultSocketFactory: () => ISocketFactory = require('kafkajs/src/network/socketFactory');

/** Whether `done` resolved within `ms`; the timer does not outlive it. */
async function within(done: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a disconnecting consumer may take before its connections are closed under it (a stalled fetch never ends). */
const DISCONNECT_GRACE_MS = 3000;

export type StartingPosition = 'LATEST' | 'TRIM_HORIZON' | 'AT_TIMESTAMP';

export interface LocalEsmOptions {
  /** kafkajs client configuration (brokers, ssl, sasl). */
  readonly kafka: KafkaConfig;
  readonly topics: string[];
  /** @default - a generated id, like the ESM's UUID */
  readonly consumerGroupId?: string;
  /**
   * Where a partition the group has no committed offset for starts; one with a committed offset resumes from it, as the
   * Lambda guide says of an existing consumer group (kafkajs' fromBeginning applies only without a committed offset).
   * @default 'TRIM_HORIZON'
   */
  readonly startingPosition?: StartingPosition;
  /** Epoch milliseconds, for AT_TIMESTAMP. */
  readonly startingPositionTimestamp?: number;
  /** Most records per invocation, 1–10000. @default 100 */
  readonly batchSize?: number;
  /** Longest time to gather records before invoking, 0–300 s. @default 0.5 */
  readonly maxBatchingWindowSeconds?: number;
  /** Retries after the first failed invocation; -1 retries until the records expire. @default -1 */
  readonly retryAttempts?: number;
  /** Oldest record age retried, in seconds; -1 for no limit. @default -1 */
  readonly maximumRecordAgeSeconds?: number;
  /** Split a failed batch in two and retry each half. @default false */
  readonly bisectBatchOnFunctionError?: boolean;
  /** Honour `{ batchItemFailures }` answers. @default false */
  readonly reportBatchItemFailures?: boolean;
  /**
   * Event filter patterns (FilterCriteria Pattern JSON texts, on `value`): only matching records are sent, the
   * others are committed without an invocation. @default - every record is sent
   */
  readonly filters?: string[];
  /**
   * The mapping's schema registry (SchemaRegistryConfig): validated keys and values are decoded with their
   * schemas and delivered as JSON or SOURCE with their schema metadata; records that do not validate go to the
   * on-failure destination (SCHEMA_NOT_FOUND, DESERIALIZATION_ERROR). @default - records are delivered as they are
   */
  readonly schemaRegistry?: SchemaRegistrySettings;
  /** SQS/SNS/S3 ARN or kafka://topic. @default - failed records are logged and skipped */
  readonly onFailure?: string;
  /** The event's identity: eventSourceArn makes it an aws:kafka (MSK) event. */
  readonly eventSource?: EventSourceIdentity;
  /** Function name or ARN, invoked through the Lambda API at `lambdaEndpoint`. */
  readonly functionName?: string;
  readonly lambdaEndpoint?: string;
  /** "path/to/module.export": a handler called in-process instead of the Lambda API. */
  readonly handler?: string;
  /** Endpoint and region for the AWS clients: the on-failure destination's, Secrets Manager's and Glue's. */
  readonly awsEndpoint?: string;
  readonly region?: string;
  /** Partitions processed in parallel (each in order). @default 4 */
  readonly partitionsConsumedConcurrently?: number;
  /** Delay between retries of a failed batch, ms. @default 500 */
  readonly retryDelayMs?: number;
  /**
   * Seconds records may stay behind a partition's high watermark with no batch started or finished, while the
   * consumer is still a member of its group, before the consumer is taken for stalled and restarted (disconnected
   * and connected again, resuming from the committed offsets). A batch in progress, however slow, is not a stall;
   * the batching window is added to the bound. 0 turns the watch off. @default 20 (under kafkajs' 30 s session timeout)
   */
  readonly stallTimeoutSeconds?: number;
  readonly log?: (line: string) => void;
  /**
   * Called when the consumer stopped on an error kafkajs does not retry (the mapping consumes no more).
   * @default - the error is logged
   */
  readonly onFatalError?: (error: Error) => void;
}

export { LocalEsmConfigError };

export interface LocalEsmStats {
  invocations: number;
  recordsCommitted: number;
  recordsSentToOnFailure: number;
  /** Records committed without an invocation because no filter matched them. */
  recordsFiltered: number;
  /** Records the schema registry step rejected (sent to the on-failure destination, or dropped without one). */
  recordsRejectedBySchema: number;
  /** Batches held back because the schema registry could not be asked, then asked again. */
  schemaRegistryRetries: number;
  onFailureRecords: number;
  /** Invocations answered with a function error, or a partial batch response naming records. */
  failedInvocations: number;
  /** Invocations answered with throttling (retried, not counted as failures). */
  throttledInvocations: number;
  /** Times the consumer stopped on an error (a lost broker, a failed commit) and was restarted or given up. */
  consumerCrashes: number;
  /** Times the consumer joined its group: once at the start, again after a rebalance or a lost coordinator. */
  groupJoins: number;
  /** Times the consumer was found stalled (records behind, no batch for stallTimeoutSeconds, still in the group) and restarted. */
  consumerRestarts: number;
  /** Per "topic-partition": high watermark minus the next offset to process. */
  lag: Record<string, number>;
}

export function validateOptions(o: LocalEsmOptions): void {
  if (!o.topics?.length) throw new LocalEsmConfigError('topics: at least one topic is required');
  validateMappingOptions(o, { maxBatchingWindowSeconds: 0.5 });
  const stall = o.stallTimeoutSeconds;
  if (stall !== undefined && !(Number.isFinite(stall) && stall >= 0))
    throw new LocalEsmConfigError(`stallTimeoutSeconds must be 0 (no watch) or more seconds, got ${stall}`);
  if (o.schemaRegistry) validateSchemaRegistry(o.schemaRegistry);
}

export class LocalEventSourceMapping {
  public readonly stats: LocalEsmStats = {
    invocations: 0,
    recordsCommitted: 0,
    recordsSentToOnFailure: 0,
    recordsFiltered: 0,
    recordsRejectedBySchema: 0,
    schemaRegistryRetries: 0,
    onFailureRecords: 0,
    failedInvocations: 0,
    throttledInvocations: 0,
    consumerCrashes: 0,
    groupJoins: 0,
    consumerRestarts: 0,
    lag: {},
  };
  public readonly groupId: string;
  /** The options, with their defaults. */
  private readonly settings: Required<
    Pick<LocalEsmOptions, 'batchSize' | 'maxBatchingWindowSeconds' | 'retryAttempts' | 'maximumRecordAgeSeconds' | 'retryDelayMs'>
  > &
    LocalEsmOptions;
  private readonly kafka: Kafka;
  private readonly id: EventSourceIdentity;
  private consumer?: Consumer;
  /** The current consumer's connections, closed under it when it stalled and does not disconnect. */
  private consumerSockets = new Set<Socket>();
  /** Bumped when a consumer is replaced: batches of a retired consumer are not delivered. */
  private generation = 0;
  /** The member id and assignment of the current consumer's last group join. */
  private member: { memberId?: string; assignment: Record<string, number[]> } = { assignment: {} };
  private watch?: StallWatch;
  private admin?: Promise<Admin>;
  private producer?: Promise<Producer>;
  private destination?: OnFailureDestination;
  private invoker!: Invoker;
  private delivery!: BatchDelivery<EsmRecord>;
  private registry?: RegistryConnection;
  private validator?: RecordSchemaValidator;
  private running = false;
  private readonly log: (line: string) => void;
  private readonly matches?: (value: Buffer | null) => boolean;

  constructor(options: LocalEsmOptions) {
    validateOptions(options);
    this.matches = recordFilter(options.filters);
    this.settings = {
      batchSize: 100,
      maxBatchingWindowSeconds: 0.5,
      retryAttempts: -1,
      maximumRecordAgeSeconds: -1,
      retryDelayMs: 500,
      ...options,
    };
    this.groupId = options.consumerGroupId ?? randomUUID();
    this.kafka = new Kafka({ logLevel: logLevel.NOTHING, ...options.kafka });
    this.id = options.eventSource ?? { bootstrapServers: (options.kafka.brokers as string[]).join(',') };
    this.log = options.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  async start(): Promise<void> {
    this.connectDelivery();
    if (this.settings.startingPosition === 'AT_TIMESTAMP') await this.seekToTimestamp();
    this.running = true;
    this.startWatch();
    await this.runConsumer();
  }

  /** A new consumer of the group, subscribed and running; it resumes from the committed offsets. */
  private async runConsumer(): Promise<void> {
    const generation = ++this.generation;
    const sockets = new Set<Socket>();
    const consumer = this.createConsumer(generation, sockets);
    this.consumer = consumer;
    this.consumerSockets = sockets;
    await consumer.connect();
    for (const topic of this.settings.topics)
      await consumer.subscribe({ topic, fromBeginning: this.settings.startingPosition !== 'LATEST' });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.partitionsConsumedConcurrently ?? 4,
      eachBatch: (payload) => this.watchedBatch(generation, payload),
    });
  }

  /** One batch of the consumer of `generation`, seen by the stall watch; a retired consumer's batch is left uncommitted. */
  private async watchedBatch(generation: number, payload: EachBatchPayload): Promise<void> {
    if (generation !== this.generation) return;
    this.watch?.batchStarted();
    try {
      await this.consumeBatch(payload);
    } finally {
      this.watch?.batchEnded();
    }
  }

  /** The stall watch, unless stallTimeoutSeconds is 0; the batching window is added to its bound. */
  private startWatch(): void {
    const seconds = this.settings.stallTimeoutSeconds ?? 20;
    if (seconds === 0) return;
    this.watch = new StallWatch({
      boundMs: (seconds + this.settings.maxBatchingWindowSeconds) * 1000,
      probe: adminProbe(
        () => this.watchAdmin(),
        this.groupId,
        () => this.member,
        this.settings.startingPosition !== 'LATEST',
      ),
      onStall: (behind) => this.restartStalled(behind, seconds),
    });
    this.watch.start();
  }

  private watchAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })().catch((e) => {
      this.admin = undefined;
      throw e;
    });
    return this.admin;
  }

  /** Replaces a stalled consumer: the old one disconnects (its connections closed if it cannot), a new one resumes. */
  private async restartStalled(behind: BehindPartition[], seconds: number): Promise<void> {
    if (!this.running) return;
    this.stats.consumerRestarts++;
    const where = behind.map((b) => `${b.topic}-${b.partition} at offset ${b.nextOffset} (high watermark ${b.highWatermark})`);
    this.log(
      `consumer stalled: ${where.join(', ')} with no batch for ${seconds} s while member ${this.member.memberId} stays in group ${this.groupId}; restarting it`,
    );
    this.generation++;
    await this.retire(this.consumer, this.consumerSockets);
    for (let attempt = 0; this.running; attempt++) {
      try {
        await this.runConsumer();
        break;
      } catch (e) {
        this.log(`consumer restart failed: ${(e as Error).message}; trying again`);
        await sleep(Math.min(5000, this.settings.retryDelayMs * 2 ** Math.min(attempt, 10)));
      }
    }
    this.watch?.reset();
  }

  /** Disconnects a consumer; one whose fetch never returns gets its connections closed after a grace period. */
  private async retire(consumer: Consumer | undefined, sockets: Set<Socket>): Promise<void> {
    if (!consumer) return;
    const done = consumer.disconnect().then(
      () => true,
      () => true,
    );
    if (await within(done, DISCONNECT_GRACE_MS)) return;
    this.log(`consumer did not disconnect within ${DISCONNECT_GRACE_MS / 1000} s; closing its ${sockets.size} connections`);
    for (const s of sockets) s.destroy(new Error('the stalled consumer is retired'));
    await within(done, DISCONNECT_GRACE_MS);
  }

  /** The invoker, the on-failure destination, the delivery with its retries, and the schema registry's client. */
  private connectDelivery(): void {
    this.invoker = createInvoker(this.settings);
    if (this.settings.onFailure)
      this.destination = onFailureDestination(
        this.settings.onFailure,
        { endpoint: this.settings.awsEndpoint, region: this.settings.region },
        () => (this.producer ??= this.connectProducer()),
      );
    const id = this.id;
    const functionArn = this.invoker.functionArn;
    this.delivery = new BatchDelivery<EsmRecord>(
      {
        event: (records) => buildEvent(id, records),
        partialFailures: (records, response) => this.partialFailures(records, response),
        timestamp: (r) => r.timestamp,
        where: (rs) => `${rs[0].topic}-${rs[0].partition} offsets ${rs[0].offset}-${rs[rs.length - 1].offset}`,
        onFailureRecord: (a) => onFailureRecord({ ...a, id, functionArn, event: buildEvent(id, a.records) }),
        bisectPartialFailures: true,
        expiredCondition: 'RetryAttemptsExhausted',
        expireBeforeInvoke: false,
      },
      this.invoker,
      this.settings,
      this.destination,
      this.stats,
      () => this.running,
      this.log,
    );
    if (this.settings.schemaRegistry) {
      this.registry = connectRegistry(this.settings.schemaRegistry, {
        endpoint: this.settings.awsEndpoint,
        region: this.settings.region,
      });
      this.validator = new RecordSchemaValidator(this.settings.schemaRegistry, this.registry.client);
    }
  }

  /**
   * The consumer group member, its fetches shaped by the mapping's batching window, on a client of its own whose
   * connections are kept in `sockets`.
   */
  private createConsumer(generation: number, sockets: Set<Socket>): Consumer {
    const window = Math.round(this.settings.maxBatchingWindowSeconds * 1000);
    const factory = this.settings.kafka.socketFactory ?? defaultSocketFactory();
    const kafka = new Kafka({
      logLevel: logLevel.NOTHING,
      ...this.settings.kafka,
      socketFactory: (o) => {
        const socket = factory(o);
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        return socket;
      },
    });
    // The broker holds a fetch until the window ends or 6 MB are there: the ESM's batching window.
    const consumer = kafka.consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: Math.max(window, 10),
      minBytes: window > 0 ? MAX_PAYLOAD_BYTES : 1,
      maxBytesPerPartition: MAX_PAYLOAD_BYTES,
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 },
    });
    // kafkajs restarts the consumer after retriable errors; after any other it stays down, so say so.
    consumer.on(consumer.events.CRASH, ({ payload: { error, restart } }) => {
      if (generation !== this.generation) return;
      this.stats.consumerCrashes++;
      this.log(`consumer crashed: ${error.name}: ${error.message}${restart ? '; restarting it' : ''}`);
      if (restart || !this.running) return;
      this.running = false;
      this.settings.onFatalError?.(error);
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (generation !== this.generation) return;
      this.stats.groupJoins++;
      this.member = { memberId: payload.memberId, assignment: payload.memberAssignment };
      this.watch?.reset();
    });
    return consumer;
  }

  /** One fetched batch of a partition: validated, filtered, delivered in chunks, committed after each. */
  private async consumeBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const key = `${batch.topic}-${batch.partition}`;
    const logAppend = false;
    const all = batch.messages;
    const records = all.map((m: KafkaMessage) => toEsmRecord(batch.topic, batch.partition, m, logAppend));
    // The schema registry step comes before filtering, as the mapping's: what fails it is not invoked.
    const candidates = this.validator
      ? await this.validated(records, async () => {
          await heartbeat();
          return this.running && isRunning() && !isStale();
        })
      : records.map((record, i): ValidRecord => ({ record, filterValue: all[i].value }));
    if (candidates === undefined) return; // stopped, or the partition moved: nothing committed
    const matches = this.matches;
    const sent = matches ? candidates.filter((c) => matches(c.filterValue)) : candidates;
    this.stats.recordsFiltered += candidates.length - sent.length;
    // Offsets up to `upTo` are committed: the chunk's records and the filtered-out ones before them.
    let committed = 0;
    const commit = async (upTo: number) => {
      await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(upTo + 1) }]);
      resolveOffset(String(upTo));
      for (; committed < all.length && Number(all[committed].offset) <= upTo; committed++) this.stats.recordsCommitted++;
      this.stats.lag[key] = Math.max(0, Number(batch.highWatermark) - (upTo + 1));
      await heartbeat();
    };
    for (const chunk of this.chunks(sent.map((c) => c.record))) {
      if (!this.running || !isRunning() || isStale()) return;
      await this.delivery.deliver(chunk, heartbeat);
      await commit(chunk[chunk.length - 1].offset);
    }
    if (committed < all.length && this.running && isRunning() && !isStale()) await commit(Number(all[all.length - 1].offset));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.watch?.stop();
    await this.retire(this.consumer, this.consumerSockets);
    if (this.admin) await (await this.admin.catch(() => undefined))?.disconnect();
    if (this.producer) await (await this.producer).disconnect();
    await this.destination?.close();
    this.invoker?.close();
    this.registry?.close();
  }

  /**
   * The records that pass the schema registry step, transformed; the others go to the on-failure destination
   * (before any offset past them is committed). A registry that cannot be asked holds the batch back and is asked
   * again, with backoff, while `stillOurs()` (which also heartbeats) says the partition is still this consumer's;
   * undefined once it is not.
   */
  private async validated(records: EsmRecord[], stillOurs: () => Promise<boolean>): Promise<ValidRecord[] | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { valid, rejected } = await this.validator!.validate(records);
        for (const r of rejected) {
          this.log(`schema registry: ${r.reason}: ${r.message}`);
          await this.delivery.reject(r.reason, [r.record]);
          this.stats.recordsRejectedBySchema++;
        }
        return valid;
      } catch (e) {
        if (!(e instanceof SchemaRegistryUnreachableError)) throw e;
        this.stats.schemaRegistryRetries++;
        const first = records[0];
        this.log(
          `schema registry: ${first.topic}-${first.partition} offsets ${first.offset}-${records[records.length - 1].offset} held back: ${e.message}; retrying`,
        );
        await sleep(Math.min(5000, this.settings.retryDelayMs * 2 ** Math.min(attempt, 10)));
        if (!(await stillOurs())) return undefined;
      }
    }
  }

  /** Batches of at most batchSize records whose event stays under 6 MB; an oversized record is its own batch. */
  private *chunks(records: EsmRecord[]): Generator<EsmRecord[]> {
    let cur: EsmRecord[] = [];
    let size = payloadBytes(buildEvent(this.id, []));
    for (const r of records) {
      const s = Buffer.byteLength(JSON.stringify(r)) + 1;
      if (cur.length && (cur.length >= this.settings.batchSize || size + s > MAX_PAYLOAD_BYTES)) {
        yield cur;
        cur = [];
        size = payloadBytes(buildEvent(this.id, []));
      }
      cur.push(r);
      size += s;
    }
    if (cur.length) yield cur;
  }

  /**
   * The records to retry after a partial batch response: from the lowest failed offset of each
   * partition on. An answer that is not a valid partial batch response fails the whole batch.
   */
  private partialFailures(records: readonly EsmRecord[], response: unknown): EsmRecord[] {
    if (response === null || response === undefined || typeof response !== 'object' || !('batchItemFailures' in response))
      return [];
    const items = (response as { batchItemFailures: unknown }).batchItemFailures;
    if (!Array.isArray(items)) return [...records];
    const from = new Map<string, number>();
    for (const it of items) {
      const id = it?.itemIdentifier;
      if (!id || typeof id.partition !== 'string' || !Number.isInteger(Number(id.offset))) return [...records];
      const o = Number(id.offset);
      from.set(id.partition, Math.min(from.get(id.partition) ?? o, o));
    }
    return records.filter((r) => {
      const f = from.get(`${r.topic}-${r.partition}`);
      return f !== undefined && r.offset >= f;
    });
  }

  private async connectProducer(): Promise<Producer> {
    const p = this.kafka.producer({ allowAutoTopicCreation: true });
    await p.connect();
    return p;
  }

  /** AT_TIMESTAMP: commits the offsets of the time for the partitions the group has no committed offset for. */
  private async seekToTimestamp(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const topic of this.settings.topics) {
        const committed = (await admin.fetchOffsets({ groupId: this.groupId, topics: [topic] }))[0]?.partitions ?? [];
        const at = await admin.fetchTopicOffsetsByTimestamp(topic, this.settings.startingPositionTimestamp);
        const partitions = at.filter((p) => (committed.find((c) => c.partition === p.partition)?.offset ?? '-1') === '-1');
        if (partitions.length)
          await admin.setOffsets({
            groupId: this.groupId,
            topic,
            partitions: partitions.map((p) => ({ partition: p.partition, offset: p.offset })),
          });
      }
    } finally {
      await admin.disconnect();
    }
  }
}
