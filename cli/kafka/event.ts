/** The Lambda event and the on-failure record, built the way the Kafka event source mapping builds them (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html). */
import type { KafkaMessage } from 'kafkajs';
import { PAYLOAD_LIMIT_BYTES } from '../../contract/dispatcher-config';
import type { RawKafkaRecord } from '../../runtime/kafka/decode';

/** Largest synchronous invoke payload Lambda accepts (6 MB). */
export const MAX_PAYLOAD_BYTES = PAYLOAD_LIMIT_BYTES.sync;

export interface EventSourceIdentity {
  /** SelfManagedKafka: the bootstrap servers, comma separated. */
  readonly bootstrapServers?: string;
  /** aws:kafka (Amazon MSK): the cluster ARN. */
  readonly eventSourceArn?: string;
}

/** A record of the event as this emulator builds it: the wire record, with what a broker always gives. */
export interface EsmRecord extends RawKafkaRecord {
  readonly partition: number;
  readonly offset: number;
  readonly timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  readonly key?: string;
  readonly value?: string;
  readonly headers: Record<string, number[]>[];
}

/**
 * One record as the ESM sends it: key and value base64, omitted when null (a tombstone has no `value`),
 * headers as single-key objects of byte arrays, in the order they were produced.
 */
export function toEsmRecord(topic: string, partition: number, m: KafkaMessage, logAppendTime: boolean): EsmRecord {
  const headers: Record<string, number[]>[] = [];
  for (const [name, v] of Object.entries(m.headers ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one === undefined) continue;
      headers.push({ [name]: [...(Buffer.isBuffer(one) ? one : Buffer.from(String(one)))] });
    }
  }
  return {
    topic,
    partition,
    offset: Number(m.offset),
    timestamp: Number(m.timestamp),
    timestampType: logAppendTime ? 'LOG_APPEND_TIME' : 'CREATE_TIME',
    ...(m.key === null || m.key === undefined ? {} : { key: m.key.toString('base64') }),
    ...(m.value === null || m.value === undefined ? {} : { value: m.value.toString('base64') }),
    headers,
  };
}

/** The invoke payload: records grouped by "topic-partition". */
export function buildEvent(id: EventSourceIdentity, records: readonly EsmRecord[]): Record<string, unknown> {
  const grouped: Record<string, EsmRecord[]> = {};
  for (const r of records) (grouped[`${r.topic}-${r.partition}`] ??= []).push(r);
  return id.eventSourceArn
    ? {
        eventSource: 'aws:kafka',
        eventSourceArn: id.eventSourceArn,
        ...(id.bootstrapServers ? { bootstrapServers: id.bootstrapServers } : {}),
        records: grouped,
      }
    : { eventSource: 'SelfManagedKafka', bootstrapServers: id.bootstrapServers, records: grouped };
}

export const payloadBytes = (event: unknown): number => Buffer.byteLength(JSON.stringify(event), 'utf8');

/** Why records went to the on-failure destination; SCHEMA_NOT_FOUND and DESERIALIZATION_ERROR are the schema registry step's reason codes. */
export type FailureCondition =
  | 'RetryAttemptsExhausted'
  | 'MaximumPayloadSizeExceeded'
  | 'MaximumRecordAgeExceeded'
  | 'RecordAgeExceeded'
  | 'SCHEMA_NOT_FOUND'
  | 'DESERIALIZATION_ERROR';

export interface InvokeOutcome {
  readonly requestId: string;
  readonly statusCode?: number;
  readonly executedVersion?: string;
  readonly functionError?: string;
}

/** The on-failure record (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html); `payload` (the whole event) only for S3 destinations. */
export function onFailureRecord(args: {
  id: EventSourceIdentity;
  functionArn: string;
  condition: FailureCondition;
  approximateInvokeCount: number;
  last?: InvokeOutcome;
  records: readonly EsmRecord[];
  event: unknown;
  withPayload: boolean;
}): Record<string, unknown> {
  const recordsInfo: Record<string, unknown> = {};
  const byPartition = new Map<string, EsmRecord[]>();
  for (const r of args.records) {
    const k = `${r.topic}-${r.partition}`;
    if (!byPartition.has(k)) byPartition.set(k, []);
    byPartition.get(k)!.push(r);
  }
  for (const [k, rs] of byPartition) {
    const first = rs[0];
    const last = rs[rs.length - 1];
    recordsInfo[k] = {
      firstRecordOffset: String(first.offset),
      lastRecordOffset: String(last.offset),
      firstRecordTimestamp: new Date(first.timestamp).toISOString(),
      lastRecordTimestamp: new Date(last.timestamp).toISOString(),
    };
  }
  return {
    ...invocationContext(args),
    KafkaBatchInfo: {
      batchSize: args.records.length,
      ...(args.id.eventSourceArn ? { eventSourceArn: args.id.eventSourceArn } : {}),
      ...(args.id.bootstrapServers ? { bootstrapServers: args.id.bootstrapServers } : {}),
      payloadSize: payloadBytes(args.event),
      recordsInfo,
    },
    ...(args.withPayload ? { payload: JSON.stringify(args.event) } : {}),
  };
}

/** What every on-failure record starts with: the last invocation's request and response, the version and the time. */
export function invocationContext(args: {
  functionArn: string;
  condition: FailureCondition;
  approximateInvokeCount: number;
  last?: InvokeOutcome;
}): Record<string, unknown> {
  return {
    requestContext: {
      requestId: args.last?.requestId ?? 'none',
      functionArn: args.functionArn,
      condition: args.condition,
      approximateInvokeCount: args.approximateInvokeCount,
    },
    // Nothing was invoked: the record was too large, or the schema registry step rejected it.
    responseContext:
      args.condition === 'MaximumPayloadSizeExceeded' || !args.last
        ? null
        : {
            statusCode: args.last.statusCode ?? 0,
            executedVersion: args.last.executedVersion ?? '$LATEST',
            functionError: args.last.functionError ?? 'Unhandled',
          },
    version: '1.0',
    timestamp: new Date().toISOString(),
  };
}
