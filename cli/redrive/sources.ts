/**
 * What a redrive reads: the mapping's on-failure records in an SQS queue (KafkaBatchInfo or KinesisBatchInfo, also
 * SNS-delivered) or an S3 bucket (s3-source.ts), and the dispatcher's error topic (records with their bytes, or their
 * coordinates when truncated).
 */
import { randomUUID } from 'node:crypto';
import { Kafka, KafkaConfig, logLevel } from 'kafkajs';
import { localAwsSettings } from '../aws';
import type { EventSourceIdentity } from '../kafka/event';
import type { OffsetRange } from './kafka-reader';
import type { SequenceRange } from './kinesis-reader';

/** One failed batch to send again: its records carried whole, and the ranges to read again from the source topic. */
export interface WorkItem {
  /** Where it came from, for messages: "sqs message ID" or "error record TOPIC-P@O". */
  readonly label: string;
  /** Records as the event carried them (base64 key and value), from the error topic. */
  readonly records: ReadonlyArray<{ topic: string; partition: number; offset: number } & Record<string, unknown>>;
  readonly ranges: readonly OffsetRange[];
  /** Kinesis ranges (KinesisBatchInfo), read again from the stream by sequence number. */
  readonly sequences?: readonly SequenceRange[];
  /** Called once all the item's records succeeded (an SQS message is deleted). */
  readonly ack?: () => Promise<void>;
  /** An S3 object's URI, kept in the state file once all its records succeeded (objects are never deleted). */
  readonly doneKey?: string;
  /** The cluster the carried records' event named (S3 payload): their event's identity without the flags. */
  readonly eventSource?: EventSourceIdentity;
  /**
   * Records the dispatcher handled as failures (an error record's): their events carry the redrive marker, so the
   * dispatcher runs them again although its idempotency holds them as done. @default false
   */
  readonly failedAtDispatcher?: boolean;
}

export interface Source {
  readonly items: WorkItem[];
  /** Records of items the state file says are done, not even read (S3 objects done). */
  readonly alreadyDone?: number;
  /** Messages, objects or error records that are not a record redrive reads: each named, left in place, not sent. */
  readonly skipped?: number;
  /** Makes what was not acknowledged visible again (SQS), closes clients. */
  close(): Promise<void>;
}

/** "topic-partition" of recordsInfo: the partition after the last dash. */
function splitTopicPartition(k: string): { topic: string; partition: number } {
  const dash = k.lastIndexOf('-');
  return { topic: k.slice(0, dash), partition: Number(k.slice(dash + 1)) };
}

/** An on-failure record, raw or an SNS notification's Message. */
function unwrap(body: string): Record<string, any> {
  const rec = parseJson(body);
  return rec?.Type === 'Notification' && typeof rec.Message === 'string' ? parseJson(rec.Message) : rec;
}

/** JSON.parse, whose message would quote the text: an error names no bytes. */
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('is not JSON');
  }
}

/** The ranges of a Kafka on-failure record (raw, or an SNS notification's Message); throws naming what is missing. */
export function onFailureRanges(body: string): OffsetRange[] {
  return kafkaRanges(unwrap(body));
}

function kafkaRanges(rec: Record<string, any>): OffsetRange[] {
  const info = rec?.KafkaBatchInfo?.recordsInfo;
  if (!info || typeof info !== 'object') throw new Error('has no KafkaBatchInfo.recordsInfo (not a Kafka on-failure record)');
  const entries = Object.entries(info as Record<string, { firstRecordOffset?: unknown; lastRecordOffset?: unknown }>);
  if (!entries.length) throw new Error('has an empty KafkaBatchInfo.recordsInfo (it names no record)');
  return entries.map(([k, v]) => {
    const range = { ...splitTopicPartition(k), first: offsetOf(v?.firstRecordOffset), last: offsetOf(v?.lastRecordOffset) };
    if (!isOffsetRange(range)) throw new Error(`has no valid first and last offset for ${k} in KafkaBatchInfo.recordsInfo`);
    return range;
  });
}

/** An offset as a number, from a number or a decimal string; NaN for anything else. */
function offsetOf(v: unknown): number {
  if (typeof v === 'number') return v;
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
}

/** A range of a partition that names at least one record by integer offsets. */
function isOffsetRange(r: OffsetRange): boolean {
  return (
    r.topic.length > 0 &&
    Number.isSafeInteger(r.partition) &&
    r.partition >= 0 &&
    Number.isSafeInteger(r.first) &&
    Number.isSafeInteger(r.last) &&
    r.first >= 0 &&
    r.first <= r.last
  );
}

/** KinesisBatchInfo: the shard and the batch's first and last sequence numbers (seed 003, Lambda's with-kinesis.md). */
function kinesisRange(rec: Record<string, any>): SequenceRange {
  const k = rec.KinesisBatchInfo as Record<string, unknown>;
  for (const f of ['shardId', 'startSequenceNumber', 'endSequenceNumber', 'streamArn'])
    if (typeof k[f] !== 'string') throw new Error(`has no KinesisBatchInfo.${f}`);
  return {
    streamArn: k.streamArn as string,
    shardId: k.shardId as string,
    start: k.startSequenceNumber as string,
    end: k.endSequenceNumber as string,
    batchSize: Number(k.batchSize) || 1,
  };
}

/**
 * The records an S3 object's `payload` carries: the whole event as an escaped JSON string (seed 002, Lambda's
 * "S3 destination example invocation record": "the payload field contains the original invocation record").
 */
function carriedKafkaRecords(payload: unknown): Pick<WorkItem, 'records' | 'eventSource'> | undefined {
  if (typeof payload !== 'string') return undefined;
  const event = parseJson(payload) as {
    records?: Record<string, Array<Record<string, unknown>>>;
    bootstrapServers?: unknown;
    eventSourceArn?: unknown;
  };
  if (!event?.records || typeof event.records !== 'object') return undefined;
  const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const eventSource = { bootstrapServers: text(event.bootstrapServers), eventSourceArn: text(event.eventSourceArn) };
  const records = Object.values(event.records).flat();
  const valid = records.every((r) => typeof r.topic === 'string' && typeof r.partition === 'number' && r.offset !== undefined);
  if (!valid) return undefined;
  return {
    records: records.map((r) => ({ ...r, topic: r.topic as string, partition: r.partition as number, offset: Number(r.offset) })),
    ...(eventSource.bootstrapServers || eventSource.eventSourceArn ? { eventSource } : {}),
  };
}

/**
 * An on-failure record as work: Kinesis by sequence range; Kafka by offset ranges, or, when it carries the event
 * (S3), its records as they are. Throws naming what is missing.
 */
export function onFailureItem(label: string, body: string, extra: Pick<WorkItem, 'ack' | 'doneKey'> = {}): WorkItem {
  const rec = unwrap(body);
  if (rec?.KinesisBatchInfo) return { label, records: [], ranges: [], sequences: [kinesisRange(rec)], ...extra };
  if (!rec?.KafkaBatchInfo)
    throw new Error('has neither KafkaBatchInfo nor KinesisBatchInfo (not an on-failure record of a stream mapping)');
  const carried = carriedKafkaRecords(rec.payload);
  return carried?.records.length
    ? { label, ...carried, ranges: [], ...extra }
    : { label, records: [], ranges: kafkaRanges(rec), ...extra };
}

/** Every message of the queue now (received until an empty answer, hidden for the run). */
export async function sqsSource(
  queueUrl: string,
  aws: { endpoint?: string; region?: string },
  warn: (line: string) => void,
  options: { dryRun?: boolean } = {},
): Promise<Source> {
  const sqs = require('@aws-sdk/client-sqs') as typeof import('@aws-sdk/client-sqs');
  const client = new sqs.SQSClient(localAwsSettings(aws.endpoint, aws.region));
  const policy = await redrivePolicy(client, queueUrl);
  // Every receive counts toward the queue's maxReceiveCount: a dry run does not spend one.
  if (options.dryRun && policy) {
    warn(
      `sqs ${queueUrl}: not read in a dry run: its redrive policy moves a message to ${policy.deadLetterQueue} after ${policy.maxReceiveCount} receive(s), and a dry run's receive counts; it holds about ${policy.messages} message(s)`,
    );
    client.destroy();
    return { items: [], skipped: 0, close: async () => undefined };
  }
  const items: WorkItem[] = [];
  const unacked = new Map<string, string>();
  let skipped = 0;
  // Hidden from the first receive on, however long the receiving and the run take.
  const keepHidden = hideWhileRunning(unacked, (entries) =>
    client.send(new sqs.ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries })),
  );
  keepHidden.onError((e) => warn(`sqs ${queueUrl}: the messages' visibility could not be extended (${e.message})`));
  for (;;) {
    const out = await client.send(
      new sqs.ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: VISIBILITY_SECONDS,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    if (!out.Messages?.length) break;
    for (const m of out.Messages) {
      const label = `sqs message ${m.MessageId}`;
      unacked.set(m.MessageId!, m.ReceiptHandle!);
      const received = Number(m.Attributes?.ApproximateReceiveCount);
      if (policy && received >= policy.maxReceiveCount)
        warn(
          `${label}: received ${received} time(s), the queue's maxReceiveCount: if its records fail again, it moves to ${policy.deadLetterQueue} at its next receive`,
        );
      try {
        items.push(
          onFailureItem(label, m.Body ?? '', {
            ack: async () => {
              await client.send(new sqs.DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
              unacked.delete(m.MessageId!);
            },
          }),
        );
      } catch (e) {
        skipped++;
        warn(`${label}: ${(e as Error).message}; left in the queue`);
      }
    }
  }
  return {
    items,
    skipped,
    async close() {
      keepHidden.stop();
      for (const handle of unacked.values())
        await client.send(
          new sqs.ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }),
        );
      client.destroy();
    },
  };
}

/** The queue's redrive policy (dead-letter queue and maxReceiveCount) and its message count; undefined without one. */
async function redrivePolicy(
  client: import('@aws-sdk/client-sqs').SQSClient,
  queueUrl: string,
): Promise<{ deadLetterQueue: string; maxReceiveCount: number; messages: number } | undefined> {
  const sqs = require('@aws-sdk/client-sqs') as typeof import('@aws-sdk/client-sqs');
  const { Attributes: a = {} } = await client.send(
    new sqs.GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy', 'ApproximateNumberOfMessages'] }),
  );
  if (!a.RedrivePolicy) return undefined;
  const p = JSON.parse(a.RedrivePolicy) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
  return {
    deadLetterQueue: p.deadLetterTargetArn ?? 'its dead-letter queue',
    maxReceiveCount: Number(p.maxReceiveCount),
    messages: Number(a.ApproximateNumberOfMessages ?? 0),
  };
}

/** Every SQS_VISIBILITY_RENEW_MS, the received messages not yet deleted stay hidden for VISIBILITY_SECONDS more. */
const VISIBILITY_SECONDS = 900;
export const SQS_VISIBILITY_RENEW_MS = 300_000;

/**
 * Keeps the run's messages hidden from other consumers (and from a second receive) while it lasts longer than the
 * visibility timeout it received them with.
 */
export function hideWhileRunning(
  unacked: ReadonlyMap<string, string>,
  change: (entries: { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[]) => Promise<unknown>,
  everyMs = SQS_VISIBILITY_RENEW_MS,
): { stop(): void; onError(f: (e: Error) => void): void } {
  let report: (e: Error) => void = () => undefined;
  const timer = setInterval(() => {
    const handles = [...unacked.values()];
    void (async () => {
      for (let i = 0; i < handles.length; i += 10)
        await change(
          handles.slice(i, i + 10).map((h, j) => ({ Id: String(j), ReceiptHandle: h, VisibilityTimeout: VISIBILITY_SECONDS })),
        );
    })().catch((e: Error) => report(e));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer), onError: (f) => (report = f) };
}

interface ErrorValue {
  records?: Array<Record<string, unknown>>;
}

/** An error record: its records with bytes go as they are; truncated ones (and a record without `records`) by range. */
export function errorRecordItem(label: string, key: string, value: string): WorkItem {
  // parseJson: JSON.parse's message would quote the key's or the value's first bytes.
  const k = parseJson(key) as { topic: string; partition: number; startOffset: number | string; endOffset: number | string };
  const v = parseJson(value) as ErrorValue;
  if (typeof k?.partition !== 'number') throw new Error('is not a Kafka error record (its partition is a shard id)');
  if (typeof k.topic !== 'string') throw new Error('is not a Kafka error record (its key names no topic)');
  const range = (first: unknown, last: number): OffsetRange => {
    const r = { topic: k.topic, partition: k.partition, first: offsetOf(first), last };
    if (!isOffsetRange(r)) throw new Error('names no valid offsets (not a Kafka error record)');
    return r;
  };
  if (!Array.isArray(v?.records))
    return { label, records: [], ranges: [range(k.startOffset, offsetOf(k.endOffset) - 1)], failedAtDispatcher: true };
  const records: WorkItem['records'][number][] = [];
  const ranges: OffsetRange[] = [];
  for (const r of v.records) {
    const at = range(r?.offset, offsetOf(r?.offset));
    if (r.truncated === true) ranges.push(at);
    else records.push({ ...r, topic: k.topic, partition: k.partition, offset: at.first });
  }
  return { label, records, ranges, failedAtDispatcher: true };
}

/** Every error record of the topic, from its beginning to its high watermarks when the run starts. */
export async function errorTopicSource(config: KafkaConfig, topic: string, warn: (line: string) => void): Promise<Source> {
  const kafka = new Kafka({ logLevel: logLevel.NOTHING, ...config });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const pending = new Map(offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high) - 1]));
  const items: WorkItem[] = [];
  let skipped = 0;
  if (!pending.size) return { items, close: async () => undefined };
  const consumer = kafka.consumer({ groupId: `cdk-kafka-lambda-redrive-${randomUUID()}` });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const last = pending.get(batch.partition);
        if (last === undefined) return;
        for (const m of batch.messages) {
          if (Number(m.offset) > last) break;
          const label = `error record ${topic}-${batch.partition}@${m.offset}`;
          try {
            items.push(errorRecordItem(label, m.key?.toString('utf8') ?? '', m.value?.toString('utf8') ?? ''));
          } catch (e) {
            skipped++;
            warn(`${label}: ${(e as Error).message}; skipped`);
          }
        }
        if (Number(batch.lastOffset()) >= last) {
          pending.delete(batch.partition);
          consumer.pause([{ topic, partitions: [batch.partition] }]);
          if (!pending.size) done();
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 60_000)));
    const late = await Promise.race([finished.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late)
      throw new Error(
        `error topic ${topic}: partitions ${[...pending.keys()].join(',')} not read to their high watermark within 60 s; check the brokers and the auth flags`,
      );
  } finally {
    await consumer.disconnect();
  }
  return { items, skipped, close: async () => undefined };
}
