/**
 * Small fixtures for scenario tests of the Dispatcher with its real stores on MemoryDynamoDb: Kafka and Kinesis
 * events of chosen positions, a target in process that counts what it ran, and a relay that records what reached
 * its topics and fails the sends it is told to.
 */
import { IDEMPOTENCY_PARTITION_KEY } from '../../../contract/dispatcher-config';
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import type { DispatcherOptions, RelayPort } from '../../../runtime/dispatcher/dispatcher';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import { JsonLogger } from '../../../runtime/logger';
import { EmfMetrics } from '../../../runtime/metrics';
import type { SourceRecord } from '../../../runtime/dispatcher/source';
import { MemoryDynamoDb } from '../memory-dynamodb';

export const TABLE = 'idempotency';

export function memoryTable(): MemoryDynamoDb {
  const db = new MemoryDynamoDb();
  db.createTable(TABLE, IDEMPOTENCY_PARTITION_KEY);
  return db;
}

/** A Kafka event with these offsets of topic-partition (in order). */
export function kafkaEventAt(topic: string, partition: number, offsets: readonly number[]): any {
  return {
    eventSource: 'SelfManagedKafka',
    bootstrapServers: '127.0.0.1:9092',
    records: {
      [`${topic}-${partition}`]: offsets.map((offset) => ({
        topic,
        partition,
        offset,
        timestamp: 1_700_000_000_000 + offset,
        timestampType: 'CREATE_TIME',
        key: Buffer.from(`k${offset}`).toString('base64'),
        value: Buffer.from(JSON.stringify({ n: offset })).toString('base64'),
        headers: [],
      })),
    },
  };
}

/** A 56-digit Kinesis sequence number: the shard's base plus i. */
export function sequence(i: number): string {
  return (49590338271490256608559692538361571095921575989136588898n + BigInt(i) * 1000n).toString();
}

/** A Kinesis event of one shard with the sequence numbers sequence(i) for these i. */
export function kinesisEventAt(stream: string, shardId: string, indexes: readonly number[]): any {
  return {
    Records: indexes.map((i) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: `pk${i}`,
        sequenceNumber: sequence(i),
        data: Buffer.from(JSON.stringify({ n: i })).toString('base64'),
        approximateArrivalTimestamp: 1_700_000_000.123,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${sequence(i)}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
      awsRegion: 'us-east-1',
      eventSourceARN: `arn:aws:kinesis:us-east-1:123456789012:stream/${stream}`,
    })),
  };
}

export const context = (ms = 60_000) => {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now(), awsRequestId: 'req' };
};

/** Runs of the target per record ("topic|partition|offset"). */
export class Ledger {
  readonly runs = new Map<string, number>();
  readonly responses = new Map<string, unknown[]>();
  readonly errors = new Map<string, number>();
  ran(r: { topic: string; partition: number | string; offset: number | string }): void {
    const id = `${r.topic}|${r.partition}|${r.offset}`;
    this.runs.set(id, (this.runs.get(id) ?? 0) + 1);
  }
  twice(): string[] {
    return [...this.runs].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`);
  }
}

/** A relay that records what reached the topics; `failNext` makes the next sends of responses fail. */
export class RecordingRelay implements RelayPort {
  failResponses = 0;
  /** The topics each record's responses went to. */
  readonly topics = new Map<string, string[]>();
  /** Fails a send of responses it answers true for (topic, record ids). */
  failOn?: (topic: string | undefined, ids: string[]) => boolean;
  constructor(
    private readonly ledger: Ledger,
    readonly responseTopic: string | undefined = 'responses',
    readonly errorTopic: string | undefined = undefined,
  ) {}
  async sendResponses(items: readonly { record: any; result: unknown }[], topic?: string): Promise<void> {
    if (
      this.failOn?.(
        topic,
        items.map(({ record }) => `${record.topic}|${record.partition}|${record.offset}`),
      ) === true
    )
      throw new Error('broker unreachable (injected)');
    if (this.failResponses > 0) {
      this.failResponses--;
      throw new Error('broker unreachable (injected)');
    }
    for (const { record, result } of items) {
      const id = `${record.topic}|${record.partition}|${record.offset}`;
      this.topics.set(id, [...(this.topics.get(id) ?? []), topic ?? this.responseTopic ?? '']);
      this.ledger.responses.set(id, [...(this.ledger.responses.get(id) ?? []), result === undefined ? null : result]);
    }
  }
  async sendErrors(items: readonly any[]): Promise<void> {
    for (const item of items)
      for (const o of item.offsets ?? []) {
        const id = `${item.topic}|${item.partition}|${o}`;
        this.ledger.errors.set(id, (this.ledger.errors.get(id) ?? 0) + 1);
      }
  }
}

export const quiet = { logger: new JsonLogger({ write: () => undefined }), metrics: new EmfMetrics({ write: () => undefined }) };

/** A dispatcher with an in-process target answering `answer(record)` per record, on a range store of `db`. */
export function rangeDispatcher(
  db: MemoryDynamoDb,
  ledger: Ledger,
  options: Partial<DispatcherOptions> & { answer?: (r: SourceRecord) => unknown; container?: string } = {},
): Dispatcher {
  const { answer = (r: SourceRecord) => ({ ok: String(r.offset) }), container = 'env-1', ...rest } = options;
  const invoker = inProcessInvoker((records) => {
    for (const r of records) ledger.ran(r);
    return records.map(answer);
  });
  const store = new DynamoDbRangeStore({ client: db as any, tableName: TABLE, container, baseDelayMs: 0 });
  return new Dispatcher({
    invoker,
    store,
    kinesisStore: store,
    onError: 'fail',
    reportBatchItemFailures: true,
    ...quiet,
    ...rest,
  });
}
