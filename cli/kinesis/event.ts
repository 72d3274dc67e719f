/**
 * The aws:kinesis event and the on-failure record, built as the Kinesis event source mapping builds them
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
 * https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).
 */
import type { _Record as SdkRecord } from '@aws-sdk/client-kinesis';
import type { RawKinesisRecord } from '../../runtime/kinesis/decode';
import { FailureCondition, InvokeOutcome, invocationContext } from '../kafka/event';

/** A record read from a shard: the event's entry, with what the mapping orders and checkpoints by. */
export interface ShardRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** Approximate arrival time, epoch ms. */
  readonly arrivalMs: number;
  readonly raw: RawKinesisRecord;
}

export interface StreamIdentity {
  readonly streamArn: string;
  readonly region: string;
  /** The role the event names as invokeIdentityArn (the mapping's execution role in AWS). */
  readonly invokeIdentityArn: string;
}

/** One GetRecords record as the event carries it: data base64, arrival in seconds with milliseconds, eventID "shardId:sequenceNumber". */
export function toShardRecord(id: StreamIdentity, shardId: string, r: SdkRecord): ShardRecord {
  const arrivalMs = r.ApproximateArrivalTimestamp ? r.ApproximateArrivalTimestamp.getTime() : Date.now();
  const sequenceNumber = r.SequenceNumber!;
  return {
    shardId,
    sequenceNumber,
    partitionKey: r.PartitionKey!,
    arrivalMs,
    raw: {
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.PartitionKey!,
        sequenceNumber,
        data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
        approximateArrivalTimestamp: arrivalMs / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: id.invokeIdentityArn,
      awsRegion: id.region,
      eventSourceARN: id.streamArn,
    } as RawKinesisRecord,
  };
}

export const buildKinesisEvent = (records: readonly ShardRecord[]) => ({ Records: records.map((r) => r.raw) });

/**
 * The records to retry after a partial batch response ({ batchItemFailures: [{ itemIdentifier: sequenceNumber }] }):
 * from the lowest reported sequence number on. No answer, or an empty list, is a success; an entry that names no
 * record of the batch fails the whole batch, as Lambda treats it.
 */
export function kinesisPartialFailures(records: readonly ShardRecord[], response: unknown): ShardRecord[] {
  if (response === null || response === undefined || typeof response !== 'object' || !('batchItemFailures' in response))
    return [];
  const items = (response as { batchItemFailures: unknown }).batchItemFailures;
  if (items === null || items === undefined) return [];
  if (!Array.isArray(items)) return [...records];
  let from = -1;
  for (const it of items) {
    const i = records.findIndex((r) => r.sequenceNumber === it?.itemIdentifier);
    if (i < 0) return [...records];
    from = from < 0 ? i : Math.min(from, i);
  }
  return from < 0 ? [] : records.slice(from);
}

/** The on-failure record: the shard, the batch's sequence number range and arrival times; `payload` (the event) only for S3. */
export function kinesisOnFailureRecord(args: {
  id: StreamIdentity;
  functionArn: string;
  condition: FailureCondition;
  approximateInvokeCount: number;
  last?: InvokeOutcome;
  records: readonly ShardRecord[];
  withPayload: boolean;
}): Record<string, unknown> {
  const first = args.records[0];
  const last = args.records[args.records.length - 1];
  return {
    ...invocationContext(args),
    KinesisBatchInfo: {
      shardId: first.shardId,
      startSequenceNumber: first.sequenceNumber,
      endSequenceNumber: last.sequenceNumber,
      approximateArrivalOfFirstRecord: new Date(first.arrivalMs).toISOString(),
      approximateArrivalOfLastRecord: new Date(last.arrivalMs).toISOString(),
      batchSize: args.records.length,
      streamArn: args.id.streamArn,
    },
    ...(args.withPayload ? { payload: JSON.stringify(buildKinesisEvent(args.records)) } : {}),
  };
}
