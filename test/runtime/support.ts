import * as net from 'node:net';
/** Helpers shared by the runtime tests: Kafka events built like the ESM builds them, the idempotency table. */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { randomUUID } from 'node:crypto';
import { IDEMPOTENCY_PARTITION_KEY } from '../../runtime';

export interface RecordSpec {
  topic: string;
  partition: number;
  offset: number;
  /** A Buffer is sent as its bytes, a string as its text. */
  key?: string | Buffer;
  /** A Buffer is sent as its bytes, a string as its text, anything else as JSON. */
  value?: unknown;
  headers?: Record<string, string>;
  /** More fields of the event's record (e.g. the mapping's valueSchemaMetadata). */
  extra?: Record<string, unknown>;
}

/** A SelfManagedKafka event, grouped "topic-partition" in the order the specs come. */
export function kafkaEvent(specs: RecordSpec[]): any {
  const records: Record<string, unknown[]> = {};
  for (const s of specs) {
    const group = (records[`${s.topic}-${s.partition}`] ??= []);
    group.push({
      topic: s.topic,
      partition: s.partition,
      offset: s.offset,
      timestamp: 1_700_000_000_000 + s.offset,
      timestampType: 'CREATE_TIME',
      ...(s.key === undefined ? {} : { key: Buffer.from(s.key).toString('base64') }),
      value:
        s.value === undefined
          ? null
          : (Buffer.isBuffer(s.value)
              ? s.value
              : Buffer.from(typeof s.value === 'string' ? s.value : JSON.stringify(s.value))
            ).toString('base64'),
      headers: Object.entries(s.headers ?? {}).map(([k, v]) => ({ [k]: [...Buffer.from(v)] })),
      ...s.extra,
    });
  }
  return { eventSource: 'SelfManagedKafka', bootstrapServers: '127.0.0.1:9092', records };
}

/** n records of one partition starting at offset `from`, values {n: i}. */
export function partitionSpecs(topic: string, partition: number, from: number, n: number): RecordSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    topic,
    partition,
    offset: from + i,
    key: `k${from + i}`,
    value: { n: from + i },
  }));
}

/** Creates an idempotency table shaped like the one KafkaDispatcher creates. */
export async function createIdempotencyTable(client: DynamoDBClient): Promise<string> {
  const tableName = `idem-${randomUUID()}`;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: [{ AttributeName: IDEMPOTENCY_PARTITION_KEY, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_PARTITION_KEY, AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return tableName;
}

export const lambdaContext = (ms = 60_000) => {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now(), awsRequestId: randomUUID() };
};

/** Reads n messages of a topic from the beginning over the plaintext listener. */
export async function readTopic(
  te: typeof import('../../testenv'),
  topic: string,
  n: number,
  timeoutMs = 20_000,
): Promise<{ key: string; value: string; headers: Record<string, string>; partition: number }[]> {
  const { Kafka, logLevel } = await import('kafkajs');
  const consumer = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING }).consumer({
    groupId: `read-${randomUUID()}`,
  });
  const out: { key: string; value: string; headers: Record<string, string>; partition: number }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${n} messages from ${topic}`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          out.push({ key: String(message.key), value: String(message.value), headers, partition });
          if (out.length >= n) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** How many messages a topic holds: the sum of its partitions' end offsets. */
export async function messagesIn(te: typeof import('../../testenv'), topic: string): Promise<number> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

export interface KinesisRecordSpec {
  stream: string;
  shardId: string;
  sequenceNumber: string;
  partitionKey?: string;
  /** JSON-serialized unless a string. */
  value?: unknown;
  /** Unix seconds. @default 1_700_000_000.123 */
  arrival?: number;
}

/** One aws:kinesis record shaped as the Kinesis event source mapping sends it (as Lambda's Kinesis guide shows). */
export function kinesisEventRecord(s: KinesisRecordSpec): any {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: s.partitionKey ?? 'pk',
      sequenceNumber: s.sequenceNumber,
      data: Buffer.from(typeof s.value === 'string' ? s.value : JSON.stringify(s.value ?? null)).toString('base64'),
      approximateArrivalTimestamp: s.arrival ?? 1_700_000_000.123,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${s.shardId}:${s.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
    awsRegion: 'us-east-1',
    eventSourceARN: `arn:aws:kinesis:us-east-1:123456789012:stream/${s.stream}`,
  };
}

/** An aws:kinesis event with these records, in the order given. */
export function kinesisEvent(specs: KinesisRecordSpec[]): any {
  return { Records: specs.map(kinesisEventRecord) };
}

/** A sequence number of 56 digits, beyond a double's precision: `base` followed by i, zero-padded. */
export function bigSequence(i: number, base = '4959033827149025660855969253836157109592157598913'): string {
  return `${base}${String(i).padStart(56 - base.length, '0')}`;
}

/**
 * The events a Kinesis event source mapping would send for a stream's records: one per shard that has records,
 * read with GetShardIterator(TRIM_HORIZON)/GetRecords and shaped as Lambda's Kinesis guide shows.
 */
export async function kinesisEventsByShard(
  kinesis: KinesisClient,
  streamName: string,
  streamArn: string,
  region: string,
): Promise<{ shardId: string; event: any }[]> {
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const events = [];
  for (const shard of Shards!) {
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: streamName, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const { Records } = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
    if (!Records?.length) continue;
    events.push({
      shardId: shard.ShardId!,
      event: {
        Records: Records.map((r) => ({
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: r.PartitionKey!,
            sequenceNumber: r.SequenceNumber!,
            data: Buffer.from(r.Data!).toString('base64'),
            approximateArrivalTimestamp: r.ApproximateArrivalTimestamp!.getTime() / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `${shard.ShardId}:${r.SequenceNumber}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
          awsRegion: region,
          eventSourceARN: streamArn,
        })),
      },
    });
  }
  return events;
}

/** Invokes a function through the Lambda API; the answer's FunctionError and its parsed body. */
export async function invokeFunction(
  lambda: LambdaClient,
  name: string,
  event: unknown,
): Promise<{ functionError?: string; body: any }> {
  const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  return { functionError: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload!).toString('utf8')) };
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once the broker accepts these SCRAM credentials on its SASL_SSL listener (at most 30 s). */
export async function brokerAccepts(te: typeof import('../../testenv'), username: string, password: string): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const until = Date.now() + 30_000;
  for (;;) {
    const admin = new Kafka({
      ...te.kafkaClientConfig('saslSsl', { mechanism: 'SCRAM-SHA-512' }),
      sasl: { mechanism: 'scram-sha-512', username, password },
      logLevel: logLevel.NOTHING,
    }).admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
