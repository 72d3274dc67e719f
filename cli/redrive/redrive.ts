/**
 * cdk-kafka-lambda redrive: sends the records of failed batches again to a function (the dispatcher, whose
 * idempotency skips what its target already ran, or any function) as an event of the mapping's own shape (Kafka or
 * Kinesis). What is done is kept in a state file by record coordinates (and S3 objects done by URI), so a second run
 * continues; record bytes are never printed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalEsmConfigError } from '../errors';
import { EsmRecord, MAX_PAYLOAD_BYTES } from '../kafka/event';
import type { ShardRecord } from '../kinesis/event';
import { coordinate, OffsetRange, readRanges, ReadResult } from './kafka-reader';
import {
  kinesisClient,
  kinesisCoordinate,
  readSequenceRange,
  SequenceRange,
  sequenceRangeText,
  SequenceReadResult,
} from './kinesis-reader';
import { RedriveInvoker, RedriveInvokeResult, redriveInvoker } from './invoke';
import type { RedriveOptions } from './options';
import { createProgress, Progress, ProgressStream } from './progress';
import { s3Source } from './s3-source';
import { EventShape, kafkaShape, kinesisShape } from './shapes';
import { errorTopicSource, Source, sqsSource, WorkItem } from './sources';

export interface RedriveSummary {
  redriven: number;
  alreadyDone: number;
  failedAgain: number;
  expired: number;
  /** In the topic's range but not readable now (beyond the high watermark, or not read in time). */
  unreadable: number;
  /**
   * Messages, objects or error records that are not a record redrive reads (each named, left in place): set when
   * there are any.
   */
  skipped?: number;
}

export interface RedriveIo {
  /** Listings (--dry-run) and the summary line. */
  readonly out: (line: string) => void;
  /** Progress and problems. */
  readonly err: (line: string) => void;
  /**
   * Where `err` writes, when it is a terminal: the progress line is drawn there, in place.
   * @default - process.stderr when it is a terminal
   */
  readonly tty?: ProgressStream;
}

type StateFile = { version: 1; done: string[]; objects?: Record<string, number> };

/** What is done: record coordinates sent with success, and S3 objects whose records all succeeded (with their count). */
interface State {
  readonly file: string;
  readonly done: Set<string>;
  readonly objects: Map<string, number>;
}

function loadState(file: string): State {
  if (!fs.existsSync(file)) return { file, done: new Set(), objects: new Map() };
  let s: StateFile | undefined;
  try {
    s = JSON.parse(fs.readFileSync(file, 'utf8')) as StateFile;
  } catch {
    s = undefined;
  }
  const objects = Object.entries(s?.objects ?? {});
  const valid =
    s?.version === 1 &&
    Array.isArray(s.done) &&
    s.done.every((c) => typeof c === 'string') &&
    objects.every(([, n]) => typeof n === 'number');
  if (!valid)
    throw new LocalEsmConfigError(
      `the state file ${file} is not a redrive state file (version 1, done: a list of coordinates); ` +
        "move it away and give it back once repaired, or run with another --state-file (the dispatcher's idempotency " +
        'still skips what its target ran)',
    );
  return { file, done: new Set(s!.done), objects: new Map(objects) };
}

/**
 * Holds the state file for the run: a second run with the same state file at once would send the same records again
 * (and the last to write would drop what the other recorded). A lock left by a process that no longer runs is taken.
 */
function lockState(file: string): () => void {
  const lock = `${file}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = lockHolder(lock);
      if (attempt === 0 && !processRuns(pid)) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      throw new LocalEsmConfigError(
        `the state file ${file} is in use by another redrive (process ${pid || 'unknown'}, ${lock}); wait for it to end, ` +
          `or remove ${lock} if that process no longer runs`,
      );
    }
  }
}

/** The process ID a lock file names; NaN when it names none or is gone (released meanwhile). */
function lockHolder(lock: string): number {
  try {
    return Number(fs.readFileSync(lock, 'utf8'));
  } catch {
    return NaN;
  }
}

function processRuns(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function saveState(state: State): void {
  fs.mkdirSync(path.dirname(state.file), { recursive: true });
  const tmp = `${state.file}.${process.pid}.tmp`;
  const body: StateFile = { version: 1, done: [...state.done], objects: Object.fromEntries(state.objects) };
  fs.writeFileSync(tmp, JSON.stringify(body));
  fs.renameSync(tmp, state.file);
}

const rangeText = (r: OffsetRange) =>
  `${r.topic}-${r.partition}@${r.first}${r.last === r.first ? '' : `..${r.last}`} (${r.last - r.first + 1} record${r.last === r.first ? '' : 's'})`;

const overlaps = (a: OffsetRange, b: OffsetRange) =>
  a.topic === b.topic && a.partition === b.partition && a.first <= b.last && b.first <= a.last;

/** What was read again: Kafka ranges (all items at once), Kinesis ranges (each on its own). */
interface Reads {
  readonly kafka: ReadResult;
  readonly kinesis: Map<SequenceRange, SequenceReadResult>;
}

export async function redrive(o: RedriveOptions, io: RedriveIo): Promise<RedriveSummary> {
  const unlock = o.dryRun ? () => undefined : lockState(o.stateFile);
  try {
    return await redriveLocked(o, io);
  } finally {
    unlock();
  }
}

async function redriveLocked(o: RedriveOptions, io: RedriveIo): Promise<RedriveSummary> {
  const summary: RedriveSummary = { redriven: 0, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 };
  const state = loadState(o.stateFile);
  const progress = createProgress({ tty: io.tty ?? (process.stderr.isTTY ? process.stderr : undefined), err: io.err });
  const source = await openSource(o, state, progress);
  try {
    summary.alreadyDone += source.alreadyDone ?? 0;
    if (source.skipped) summary.skipped = source.skipped;
    progress.line(
      `redrive: ${source.items.length} failed batch(es) from ${sourceName(o)}${source.alreadyDone ? ` (and ${source.alreadyDone} records of objects done before)` : ''}`,
    );
    const reads = await readAll(o, source.items, state.done);
    if (o.dryRun) {
      for (const item of source.items) dryRunItem(o, item, reads, state.done, io, summary);
    } else {
      progress.setTotal(source.items.reduce((n, item) => n + pending(item, reads, state.done).count, 0));
      const invoker = redriveInvoker({ functionName: o.functionName, lambdaEndpoint: o.lambdaEndpoint, region: o.region });
      const rate = rateBound(o.maxRecordsPerSecond);
      try {
        for (const item of source.items) await redriveItem(o, item, reads, state, { invoker, rate, progress, summary });
      } finally {
        invoker.close();
      }
    }
  } finally {
    progress.end();
    await source.close();
  }
  io.out(
    `redrive${o.dryRun ? ' (dry run)' : ''}: redriven ${summary.redriven}, already done ${summary.alreadyDone}, failed again ${summary.failedAgain}, expired ${summary.expired}${summary.unreadable ? `, unreadable ${summary.unreadable}` : ''}${summary.skipped ? `, skipped ${summary.skipped} (not redrivable records, left in place)` : ''}`,
  );
  return summary;
}

/** The command's exit status: 0 only when nothing failed again, expired, stayed unread or was skipped. */
export const redriveExitStatus = (s: RedriveSummary): number => (s.failedAgain || s.expired || s.unreadable || s.skipped ? 1 : 0);

const sourceName = (o: RedriveOptions) => o.fromSqs ?? o.fromS3 ?? `error topic ${o.fromErrorTopic}`;

function openSource(o: RedriveOptions, state: State, progress: Progress): Promise<Source> {
  const aws = { endpoint: o.awsEndpoint, region: o.region };
  if (o.fromSqs) return sqsSource(o.fromSqs, aws, progress.line, { dryRun: o.dryRun });
  if (o.fromS3) return s3Source(o.fromS3, aws, state.objects, progress.line);
  return errorTopicSource(o.kafka, o.fromErrorTopic!, progress.line);
}

/** Reads again what the items hold by coordinates only: Kafka ranges not done, every Kinesis range. */
async function readAll(o: RedriveOptions, items: readonly WorkItem[], done: Set<string>): Promise<Reads> {
  // Records carried with the event they came in (S3 payload) need no cluster: their event names it.
  const kafkaItem = items.find((i) => i.ranges.length || (i.records.length && !i.eventSource));
  if (kafkaItem && Array.isArray(o.kafka.brokers) && !o.kafka.brokers.length)
    throw new LocalEsmConfigError(
      `${kafkaItem.label} names Kafka records: give --bootstrap-servers (and the auth flags) of the source topic's cluster`,
    );
  const toRead = items.flatMap((i) => i.ranges).filter((r) => !rangeDone(r, done));
  const kafka = await readRanges(o.kafka, toRead, { offsetsOnly: o.dryRun });
  const kinesis = new Map<SequenceRange, SequenceReadResult>();
  const sequences = items.flatMap((i) => i.sequences ?? []);
  if (sequences.length) {
    const clients = new Map<string, ReturnType<typeof kinesisClient>>();
    try {
      for (const r of sequences) {
        const region = o.region ?? (r.streamArn.split(':')[3] || undefined);
        const key = region ?? '';
        const client = clients.get(key) ?? clients.set(key, kinesisClient(o.kinesisEndpoint, region)).get(key)!;
        kinesis.set(r, await readSequenceRange(client, r, { region }));
      }
    } finally {
      for (const c of clients.values()) c.destroy();
    }
  }
  return { kafka, kinesis };
}

function rangeDone(r: OffsetRange, done: Set<string>): boolean {
  for (let off = r.first; off <= r.last; off++) if (!done.has(coordinate(r.topic, r.partition, off))) return false;
  return true;
}

/** The item's ranges that are past retention or unreadable, each reported by coordinates; returns how many records. */
function reportMissing(item: WorkItem, reads: Reads, line: (l: string) => void, summary: RedriveSummary, fix: string): number {
  let missing = 0;
  const read = reads.kafka;
  for (const r of item.ranges) {
    for (const e of read.expired.filter((x) => overlaps(x, r))) {
      const part = { ...r, first: Math.max(r.first, e.first), last: Math.min(r.last, e.last) };
      summary.expired += part.last - part.first + 1;
      missing += part.last - part.first + 1;
      line(`expired: ${rangeText(part)} of ${item.label} is past the topic's retention (below its log start)${fix}`);
    }
    for (const u of read.unreadable.filter((x) => overlaps(x, r))) {
      const part = { ...r, first: Math.max(r.first, u.first), last: Math.min(r.last, u.last) };
      summary.unreadable += part.last - part.first + 1;
      missing += part.last - part.first + 1;
      line(`unreadable: ${rangeText(part)} of ${item.label}: ${u.reason}; check the topic and run again`);
    }
  }
  return missing + reportKinesisMissing(item, reads, line, summary, fix);
}

function reportKinesisMissing(
  item: WorkItem,
  reads: Reads,
  line: (l: string) => void,
  summary: RedriveSummary,
  fix: string,
): number {
  let missing = 0;
  for (const r of item.sequences ?? []) {
    const read = reads.kinesis.get(r)!;
    if (read.expired) {
      summary.expired += read.expired.count;
      missing += read.expired.count;
      const at = kinesisCoordinate(r.streamArn, r.shardId, r.start);
      const held = read.expired.firstHeld;
      const upTo = held && BigInt(held) <= BigInt(r.end) ? ` up to before ${held}` : r.end === r.start ? '' : `..${r.end}`;
      line(
        `expired: ${at}${upTo} (${read.expired.count} record${read.expired.count === 1 ? '' : 's'}) of ${item.label}: ${read.expired.reason}${fix}`,
      );
    }
    if (read.unreadable) {
      const n = Math.max(1, r.batchSize - read.records.length - (read.expired?.count ?? 0));
      summary.unreadable += n;
      missing += n;
      line(`unreadable: ${sequenceRangeText(r)} of ${item.label}: ${read.unreadable}; run again once the stream holds it`);
    }
  }
  return missing;
}

/** The item's records not done yet, per shape, and how many records the item holds in all. */
function pending(
  item: WorkItem,
  reads: Reads,
  done: Set<string>,
): { kafka: EsmRecord[]; kinesis: ShardRecord[]; done: number; count: number; all: number } {
  const kafka: EsmRecord[] = [];
  const kinesis: ShardRecord[] = [];
  let already = 0;
  for (const r of item.records as unknown as EsmRecord[])
    if (done.has(coordinate(r.topic, r.partition, r.offset))) already++;
    else kafka.push(r);
  for (const r of item.ranges) {
    for (let off = r.first; off <= r.last; off++) {
      const c = coordinate(r.topic, r.partition, off);
      if (done.has(c)) already++;
      else if (reads.kafka.records.has(c)) kafka.push(reads.kafka.records.get(c)!);
    }
  }
  for (const r of item.sequences ?? [])
    for (const rec of reads.kinesis.get(r)!.records)
      if (done.has(kinesisShape.coordinate(rec))) already++;
      else kinesis.push(rec);
  const count = kafka.length + kinesis.length;
  return { kafka, kinesis, done: already, count, all: count + already };
}

function dryRunItem(
  o: RedriveOptions,
  item: WorkItem,
  reads: Reads,
  done: Set<string>,
  io: RedriveIo,
  summary: RedriveSummary,
): void {
  const target = `function ${o.functionName}`;
  for (const r of item.records) {
    const c = coordinate(r.topic, r.partition, r.offset);
    if (done.has(c)) summary.alreadyDone++;
    else {
      summary.redriven++;
      io.out(`${item.label}: ${c} (carried) -> ${target}`);
    }
  }
  reportMissing(item, reads, io.err, summary, '');
  for (const r of item.ranges) {
    let n = 0;
    for (let off = r.first; off <= r.last; off++) {
      const c = coordinate(r.topic, r.partition, off);
      if (done.has(c)) summary.alreadyDone++;
      else if (!reads.kafka.expired.some((e) => overlaps(e, { ...r, first: off, last: off }))) n++;
    }
    summary.redriven += n;
    if (n) io.out(`${item.label}: ${rangeText(r)} (read again from the topic) -> ${target}`);
  }
  for (const r of item.sequences ?? []) {
    const records = reads.kinesis.get(r)!.records;
    const todo = records.filter((rec) => !done.has(kinesisShape.coordinate(rec)));
    summary.alreadyDone += records.length - todo.length;
    summary.redriven += todo.length;
    if (todo.length) io.out(`${item.label}: ${kinesisShape.describe(todo)} (read again from the stream) -> ${target}`);
  }
}

interface Run {
  readonly invoker: RedriveInvoker;
  readonly rate: (n: number) => Promise<void>;
  readonly progress: Progress;
  readonly summary: RedriveSummary;
}

/** Sends an item's records not yet done, in batches; acknowledges it (or records its object) once every record succeeded. */
async function redriveItem(o: RedriveOptions, item: WorkItem, reads: Reads, state: State, run: Run): Promise<void> {
  const { progress, summary } = run;
  const fix = item.ack
    ? '; the message is left in the queue (delete it once the loss is accepted)'
    : item.doneKey
      ? '; the object is not recorded as done'
      : '';
  const missing = reportMissing(item, reads, progress.line, summary, fix);
  const todo = pending(item, reads, state.done);
  summary.alreadyDone += todo.done;
  const flags = o.bootstrapServers || o.eventSourceArn;
  const id =
    flags || !item.eventSource ? { bootstrapServers: o.bootstrapServers, eventSourceArn: o.eventSourceArn } : item.eventSource;
  const failed =
    (await sendAll(o, todo.kafka, kafkaShape(id, item.failedAtDispatcher), state, run)) +
    (await sendAll(o, todo.kinesis, kinesisShape, state, run));
  if (failed || missing) return;
  if (item.ack) {
    await item.ack();
    progress.line(`${item.label}: all records done, deleted`);
  }
  if (item.doneKey) {
    state.objects.set(item.doneKey, todo.all);
    saveState(state);
  }
}

/** Sends the records in batches, keeping each success in the state file; returns how many failed again. */
async function sendAll<R>(o: RedriveOptions, records: R[], shape: EventShape<R>, state: State, run: Run): Promise<number> {
  let failed = 0;
  for (const batch of batches(records, Math.min(o.batchSize, shape.maxRecords ?? o.batchSize), shape)) {
    if (tooLarge(o, batch, shape, run)) {
      failed++;
      continue;
    }
    await run.rate(batch.length);
    const bad = await sendBatch(o, batch, shape, run);
    failed += bad.length;
    for (const r of batch) if (!bad.includes(r)) state.done.add(shape.coordinate(r));
    saveState(state);
  }
  return failed;
}

/** A record whose event alone is over the synchronous payload limit: named as such, counted as failed again, not sent. */
function tooLarge<R>(o: RedriveOptions, batch: R[], shape: EventShape<R>, run: Run): boolean {
  if (batch.length !== 1) return false;
  const bytes = Buffer.byteLength(JSON.stringify(shape.event(batch)));
  if (bytes <= MAX_PAYLOAD_BYTES) return false;
  run.summary.failedAgain++;
  run.progress.line(
    `too large: ${shape.describe(batch)} makes an event of ${bytes} bytes, over the 6 MB (${MAX_PAYLOAD_BYTES} bytes) ` +
      `limit of a synchronous invocation: it cannot be sent to function ${o.functionName} as it is; handle it by its coordinates`,
  );
  run.progress.sent(1);
  return true;
}

/**
 * Batches of at most `size` records whose event stays under the synchronous payload limit: the records' bytes, each
 * group's key ("topic-partition":[...], up to 255 bytes a Kafka partition) and 1 KB for the event's other fields.
 */
export function* batches<R>(records: R[], size: number, shape: EventShape<R>): Generator<R[]> {
  let cur: R[] = [];
  let bytes = 1024;
  let groups = new Set<string>();
  const groupBytes = (g: string | undefined) => (g === undefined ? 0 : Buffer.byteLength(JSON.stringify(g)) + 4);
  for (const r of records) {
    const group = shape.group?.(r);
    const b = shape.bytes(r);
    const more = b + (group !== undefined && groups.has(group) ? 0 : groupBytes(group));
    if (cur.length && (cur.length >= size || bytes + more > MAX_PAYLOAD_BYTES)) {
      yield cur;
      cur = [];
      groups = new Set();
      bytes = 1024;
    }
    bytes += b + (group !== undefined && groups.has(group) ? 0 : groupBytes(group));
    if (group !== undefined) groups.add(group);
    cur.push(r);
  }
  if (cur.length) yield cur;
}

/** Invokes the function with one batch (throttles retried); returns the records that failed, each failure reported. */
async function sendBatch<R>(o: RedriveOptions, batch: R[], shape: EventShape<R>, run: Run): Promise<R[]> {
  const { progress, summary } = run;
  const event = shape.event(batch);
  let res: RedriveInvokeResult | undefined;
  for (let attempt = 1; attempt <= 6; attempt++) {
    res = await run.invoker.invoke(event);
    if (!res.throttled) break;
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
  const ranges = shape.describe(batch);
  const bad: R[] = res!.ok ? shape.failed(batch, res!.response) : batch;
  // Records the dispatcher handled as failures again (error topic, log, drop): which ones, its log says.
  const errorPath = bad.length ? 0 : Math.min(res!.errorPath, batch.length);
  const skipped = bad.length ? 0 : Math.min(res!.skippedDuplicates, batch.length - errorPath);
  summary.failedAgain += bad.length + errorPath;
  summary.alreadyDone += skipped;
  summary.redriven += batch.length - bad.length - errorPath - skipped;
  if (skipped)
    progress.line(
      `already done: ${skipped} of ${ranges} were done before at function ${o.functionName} (the dispatcher's idempotency) and not run again; ` +
        'records it handled as failures (its error topic, LOG, DROP) run again when redriven from the error topic (--from-error-topic)',
    );
  if (errorPath)
    progress.line(
      `failed again: ${errorPath} of ${ranges} took the error path of function ${o.functionName} again (its log names them by coordinates); ` +
        'fix what fails and redrive again from the error topic: the batch stays out of the state file, and the dispatcher runs only what it did not finish',
    );
  if (bad.length)
    progress.line(
      `failed again: ${shape.describe(bad)} sent to function ${o.functionName}: ${res!.functionError ?? 'batchItemFailures'}${
        res!.statusCode ? ` (status ${res!.statusCode})` : ''
      }; fix the function (its log names the cause) and run redrive again: what succeeded is in ${o.stateFile}`,
    );
  progress.sent(
    batch.length,
    !bad.length && !errorPath && skipped < batch.length ? `redriven: ${ranges} -> function ${o.functionName}` : undefined,
  );
  return errorPath ? batch : bad;
}

/** Waits so that the records sent stay at or under the bound per second. */
export function rateBound(perSecond: number | undefined): (n: number) => Promise<void> {
  const start = Date.now();
  let sent = 0;
  return async (n) => {
    if (!perSecond) return;
    const at = start + (sent * 1000) / perSecond;
    sent += n;
    const wait = at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
}
