/**
 * The two event shapes a redrive sends, each as the mapping builds it: Kafka (SelfManagedKafka or aws:kafka, records
 * grouped by topic-partition, cli/kafka/event.ts) and Kinesis (aws:kinesis, cli/kinesis/event.ts), with how a
 * response names failed records and how output names records (coordinates only).
 */
import { buildEvent, EsmRecord, EventSourceIdentity } from '../kafka/event';
import { REDRIVE_EVENT_FIELD, REDRIVE_EVENT_MAX_RECORDS, RedriveEventMarker } from '../../contract/redrive-event';
import { buildKinesisEvent, kinesisPartialFailures, ShardRecord } from '../kinesis/event';
import { coordinate } from './kafka-reader';
import { kinesisCoordinate, streamNameOf } from './kinesis-reader';

export interface EventShape<R> {
  event(batch: readonly R[]): unknown;
  /** The most records an event holds, whatever --batch-size says. @default - --batch-size */
  readonly maxRecords?: number;
  /** The records a successful invocation's response reports as failed (batchItemFailures). */
  failed(batch: readonly R[], response: unknown): R[];
  coordinate(r: R): string;
  /** The batch by coordinates: "topic-p@first..last (n)" or "stream/shard@first..last (n)". */
  describe(batch: readonly R[]): string;
  /** Bytes the record adds to the event. */
  bytes(r: R): number;
  /** The key of the event's group the record goes in (Kafka: "topic-partition"); each group adds its key's bytes. */
  group?(r: R): string;
}

/** first..last (n) of the positions of each group, in the order met. */
function byGroup<R>(
  records: readonly R[],
  group: (r: R) => string,
  at: (r: R) => string,
  order: (a: string, b: string) => number,
) {
  const by = new Map<string, string[]>();
  for (const r of records) (by.get(group(r)) ?? by.set(group(r), []).get(group(r))!).push(at(r));
  return [...by]
    .map(([k, at]) => {
      const sorted = [...at].sort(order);
      return `${k}@${sorted[0]}${sorted.length > 1 ? `..${sorted[sorted.length - 1]}` : ''} (${sorted.length})`;
    })
    .join(', ');
}

/** rerunFailed: the records failed at the dispatcher (an error record's); the event carries the redrive marker. */
export function kafkaShape(id: EventSourceIdentity, rerunFailed = false): EventShape<EsmRecord> {
  const marker: RedriveEventMarker = { rerunFailed: true };
  return {
    event: (batch) => ({ ...buildEvent(id, batch), ...(rerunFailed ? { [REDRIVE_EVENT_FIELD]: marker } : {}) }),
    maxRecords: rerunFailed ? REDRIVE_EVENT_MAX_RECORDS : undefined,
    failed: kafkaPartialFailures,
    coordinate: (r) => coordinate(r.topic, r.partition, r.offset),
    describe: (batch) =>
      byGroup(
        batch,
        (r) => `${r.topic}-${r.partition}`,
        (r) => String(r.offset),
        (a, b) => Number(a) - Number(b),
      ),
    bytes: (r) => Buffer.byteLength(JSON.stringify(r)) + 1,
    group: (r) => `${r.topic}-${r.partition}`,
  };
}

/**
 * The records a Kafka partial batch response fails: from the lowest failed offset of each partition on. An answer that
 * is not a valid one (batchItemFailures not a list, an itemIdentifier without a partition or an integer offset) fails
 * the whole batch, as the local mapping (cli/kafka/esm.ts) takes it.
 */
export function kafkaPartialFailures(batch: readonly EsmRecord[], response: unknown): EsmRecord[] {
  if (response === null || typeof response !== 'object' || !('batchItemFailures' in response)) return [];
  const items = (response as { batchItemFailures: unknown }).batchItemFailures;
  if (items === null || items === undefined) return [];
  if (!Array.isArray(items)) return [...batch];
  const from = new Map<string, number>();
  for (const it of items) {
    const id = it?.itemIdentifier;
    if (!id || typeof id.partition !== 'string' || !Number.isInteger(Number(id.offset))) return [...batch];
    const o = Number(id.offset);
    from.set(id.partition, Math.min(from.get(id.partition) ?? o, o));
  }
  return batch.filter((r) => {
    const f = from.get(`${r.topic}-${r.partition}`);
    return f !== undefined && r.offset >= f;
  });
}

const bigOrder = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

export const kinesisShape: EventShape<ShardRecord> = {
  event: (batch) => buildKinesisEvent(batch),
  failed: (batch, response) => kinesisPartialFailures(batch, response),
  coordinate: (r) => kinesisCoordinate(r.raw.eventSourceARN, r.shardId, r.sequenceNumber),
  describe: (batch) =>
    byGroup(
      batch,
      (r) => `${streamNameOf(r.raw.eventSourceARN)}/${r.shardId}`,
      (r) => r.sequenceNumber,
      bigOrder,
    ),
  bytes: (r) => Buffer.byteLength(JSON.stringify(r.raw)) + 1,
};
