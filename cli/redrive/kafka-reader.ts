/**
 * Reads records again from their source topic by offset: the ranges an on-failure record or a truncated error record
 * names. Offsets below a partition's log start are past retention and come back as expired, by their coordinates.
 */
import { randomUUID } from 'node:crypto';
import { Consumer, Kafka, KafkaConfig, logLevel } from 'kafkajs';
import { EsmRecord, toEsmRecord } from '../kafka/event';

/** Offsets first..last (inclusive) of one partition. */
export interface OffsetRange {
  readonly topic: string;
  readonly partition: number;
  readonly first: number;
  readonly last: number;
}

export interface ReadResult {
  /** "topic-partition@offset" → the record as the mapping's event carries it. */
  readonly records: Map<string, EsmRecord>;
  /** Ranges below the log start: past retention. */
  readonly expired: OffsetRange[];
  /** Ranges at or above the high watermark, or not read before the time bound: not in the topic now. */
  readonly unreadable: Array<OffsetRange & { reason: string }>;
}

export const coordinate = (topic: string, partition: number, offset: number): string => `${topic}-${partition}@${offset}`;

/** Reads the ranges with one consumer per call (a group of its own, nothing committed); offsetsOnly: only what is expired. */
export async function readRanges(
  config: KafkaConfig,
  ranges: readonly OffsetRange[],
  o: { timeoutMs?: number; offsetsOnly?: boolean } = {},
): Promise<ReadResult> {
  const result: ReadResult = { records: new Map(), expired: [], unreadable: [] };
  if (!ranges.length) return result;
  const kafka = new Kafka({ logLevel: logLevel.NOTHING, ...config });
  const live = await liveRanges(kafka, ranges, result);
  if (live.length && !o.offsetsOnly) await consume(kafka, live, result, o.timeoutMs ?? 60_000);
  return result;
}

/** Splits each range at the log start and the high watermark; returns what can be read, per partition merged. */
async function liveRanges(kafka: Kafka, ranges: readonly OffsetRange[], result: ReadResult): Promise<OffsetRange[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const live: OffsetRange[] = [];
    for (const topic of [...new Set(ranges.map((r) => r.topic))]) {
      const offsets = await admin.fetchTopicOffsets(topic);
      for (const r of ranges.filter((x) => x.topic === topic)) {
        const p = offsets.find((o) => o.partition === r.partition);
        if (!p) {
          result.unreadable.push({ ...r, reason: `topic ${topic} has no partition ${r.partition}` });
          continue;
        }
        const low = Number(p.low);
        const high = Number(p.high);
        if (r.first < low) result.expired.push({ ...r, last: Math.min(r.last, low - 1) });
        if (r.last >= high)
          result.unreadable.push({ ...r, first: Math.max(r.first, high), reason: `beyond the high watermark ${high}` });
        const first = Math.max(r.first, low);
        const last = Math.min(r.last, high - 1);
        if (first <= last) live.push({ topic, partition: r.partition, first, last });
      }
    }
    return live;
  } finally {
    await admin.disconnect();
  }
}

async function consume(kafka: Kafka, live: OffsetRange[], result: ReadResult, timeoutMs: number): Promise<void> {
  const key = (t: string, p: number) => `${t}-${p}`;
  const bounds = new Map<string, { first: number; last: number }>();
  for (const r of live) {
    const b = bounds.get(key(r.topic, r.partition));
    bounds.set(key(r.topic, r.partition), b ? { first: Math.min(b.first, r.first), last: Math.max(b.last, r.last) } : r);
  }
  const wanted = (t: string, p: number, o: number) =>
    live.some((r) => r.topic === t && r.partition === p && o >= r.first && o <= r.last);
  const pending = new Set(bounds.keys());
  const consumer = kafka.consumer({ groupId: `cdk-kafka-lambda-redrive-${randomUUID()}` });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...new Set(live.map((r) => r.topic))], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const k = key(batch.topic, batch.partition);
        const b = bounds.get(k);
        if (!b) return;
        for (const m of batch.messages) {
          const o = Number(m.offset);
          if (wanted(batch.topic, batch.partition, o))
            result.records.set(coordinate(batch.topic, batch.partition, o), toEsmRecord(batch.topic, batch.partition, m, false));
        }
        if (Number(batch.lastOffset()) >= b.last || Number(batch.highWatermark) - 1 <= Number(batch.lastOffset())) {
          pending.delete(k);
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
          if (!pending.size) done();
        }
      },
    });
    for (const [k, b] of bounds) {
      const dash = k.lastIndexOf('-');
      await seekOnceRunning(consumer, { topic: k.slice(0, dash), partition: Number(k.slice(dash + 1)), offset: String(b.first) });
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  for (const r of live) {
    if (pending.has(key(r.topic, r.partition))) result.unreadable.push({ ...r, reason: `not read within ${timeoutMs / 1000} s` });
  }
}

/** Seeks once the consumer's group is set up: right after run() resolves, kafkajs may not have created it yet. */
async function seekOnceRunning(consumer: Consumer, to: { topic: string; partition: number; offset: string }): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      consumer.seek(to);
      return;
    } catch (e) {
      if (Date.now() > end || !/not initialized/.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
