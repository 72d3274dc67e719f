/**
 * cdk-kafka-lambda redrive: sends the records of failed batches again to a function (the dispatcher, whose
 * idempotency skips what its target already ran, or any function) as an event of the mapping's own shape. What is
 * done is kept in a state file by record coordinates, so a second run continues; record bytes are never printed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildEvent, EsmRecord, MAX_PAYLOAD_BYTES, payloadBytes } from '../kafka/event';
import { coordinate, OffsetRange, readRanges, ReadResult } from './kafka-reader';
import { RedriveInvoker, RedriveInvokeResult, redriveInvoker } from './invoke';
import type { RedriveOptions } from './options';
import { errorTopicSource, Source, sqsSource, WorkItem } from './sources';

export interface RedriveSummary {
  redriven: number;
  alreadyDone: number;
  failedAgain: number;
  expired: number;
  /** In the topic's range but not readable now (beyond the high watermark, or not read in time). */
  unreadable: number;
}

export interface RedriveIo {
  /** Listings (--dry-run) and the summary line. */
  readonly out: (line: string) => void;
  /** Progress and problems. */
  readonly err: (line: string) => void;
}

type StateFile = { version: 1; done: string[] };

/** The coordinates already sent with success, from the state file. */
function loadState(file: string): Set<string> {
  if (!fs.existsSync(file)) return new Set();
  const s = JSON.parse(fs.readFileSync(file, 'utf8')) as StateFile;
  return new Set(s.done);
}

function saveState(file: string, done: Set<string>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ version: 1, done: [...done] } satisfies StateFile));
  fs.renameSync(tmp, file);
}

const rangeText = (r: OffsetRange) =>
  `${r.topic}-${r.partition}@${r.first}${r.last === r.first ? '' : `..${r.last}`} (${r.last - r.first + 1} record${r.last === r.first ? '' : 's'})`;

const overlaps = (a: OffsetRange, b: OffsetRange) =>
  a.topic === b.topic && a.partition === b.partition && a.first <= b.last && b.first <= a.last;

export async function redrive(o: RedriveOptions, io: RedriveIo): Promise<RedriveSummary> {
  const summary: RedriveSummary = { redriven: 0, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 };
  const done = loadState(o.stateFile);
  const source: Source = o.fromSqs
    ? await sqsSource(o.fromSqs, { endpoint: o.awsEndpoint, region: o.region }, io.err)
    : await errorTopicSource(o.kafka, o.fromErrorTopic!, io.err);
  try {
    io.err(`redrive: ${source.items.length} failed batch(es) from ${o.fromSqs ?? `error topic ${o.fromErrorTopic}`}`);
    const toRead = source.items.flatMap((i) => i.ranges).filter((r) => !rangeDone(r, done));
    const read = await readRanges(o.kafka, toRead, { offsetsOnly: o.dryRun });
    if (o.dryRun) {
      for (const item of source.items) dryRunItem(o, item, read, done, io, summary);
    } else {
      const invoker = redriveInvoker({ functionName: o.functionName, lambdaEndpoint: o.lambdaEndpoint, region: o.region });
      const rate = rateBound(o.maxRecordsPerSecond);
      try {
        for (const item of source.items) await redriveItem(o, item, read, done, { invoker, rate, io, summary });
      } finally {
        invoker.close();
      }
    }
  } finally {
    await source.close();
  }
  io.out(
    `redrive${o.dryRun ? ' (dry run)' : ''}: redriven ${summary.redriven}, already done ${summary.alreadyDone}, failed again ${summary.failedAgain}, expired ${summary.expired}${summary.unreadable ? `, unreadable ${summary.unreadable}` : ''}`,
  );
  return summary;
}

function rangeDone(r: OffsetRange, done: Set<string>): boolean {
  for (let off = r.first; off <= r.last; off++) if (!done.has(coordinate(r.topic, r.partition, off))) return false;
  return true;
}

/** The item's ranges that are past retention or unreadable, each reported by coordinates; returns how many records. */
function reportMissing(item: WorkItem, read: ReadResult, io: RedriveIo, summary: RedriveSummary, fix: string): number {
  let missing = 0;
  for (const r of item.ranges) {
    for (const e of read.expired.filter((x) => overlaps(x, r))) {
      const part = { ...r, first: Math.max(r.first, e.first), last: Math.min(r.last, e.last) };
      summary.expired += part.last - part.first + 1;
      missing += part.last - part.first + 1;
      io.err(`expired: ${rangeText(part)} of ${item.label} is past the topic's retention (below its log start)${fix}`);
    }
    for (const u of read.unreadable.filter((x) => overlaps(x, r))) {
      const part = { ...r, first: Math.max(r.first, u.first), last: Math.min(r.last, u.last) };
      summary.unreadable += part.last - part.first + 1;
      missing += part.last - part.first + 1;
      io.err(`unreadable: ${rangeText(part)} of ${item.label}: ${u.reason}; check the topic and run again`);
    }
  }
  return missing;
}

function dryRunItem(
  o: RedriveOptions,
  item: WorkItem,
  read: ReadResult,
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
  reportMissing(item, read, io, summary, '');
  for (const r of item.ranges) {
    let n = 0;
    for (let off = r.first; off <= r.last; off++) {
      const c = coordinate(r.topic, r.partition, off);
      if (done.has(c)) summary.alreadyDone++;
      else if (!read.expired.some((e) => overlaps(e, { ...r, first: off, last: off }))) n++;
    }
    summary.redriven += n;
    if (n) io.out(`${item.label}: ${rangeText(r)} (read again from the topic) -> ${target}`);
  }
}

interface Run {
  readonly invoker: RedriveInvoker;
  readonly rate: (n: number) => Promise<void>;
  readonly io: RedriveIo;
  readonly summary: RedriveSummary;
}

/** Sends an item's records not yet done, in batches; acknowledges it once every record succeeded. */
async function redriveItem(o: RedriveOptions, item: WorkItem, read: ReadResult, done: Set<string>, run: Run): Promise<void> {
  const { io, summary } = run;
  const fix = item.ack ? '; the message is left in the queue (delete it once the loss is accepted)' : '';
  const missing = reportMissing(item, read, io, summary, fix);
  const todo: EsmRecord[] = [];
  const take = (c: string, rec: EsmRecord | undefined) => {
    if (done.has(c)) summary.alreadyDone++;
    else if (rec) todo.push(rec);
  };
  for (const r of item.records as unknown as EsmRecord[]) take(coordinate(r.topic, r.partition, r.offset), r);
  for (const r of item.ranges) {
    for (let off = r.first; off <= r.last; off++) {
      const c = coordinate(r.topic, r.partition, off);
      take(c, read.records.get(c));
    }
  }
  let failed = 0;
  for (const batch of batches(todo, o.batchSize)) {
    await run.rate(batch.length);
    const bad = await sendBatch(o, batch, run);
    failed += bad.length;
    for (const r of batch) if (!bad.includes(r)) done.add(coordinate(r.topic, r.partition, r.offset));
    saveState(o.stateFile, done);
  }
  if (!failed && !missing && item.ack) {
    await item.ack();
    io.err(`${item.label}: all records done, deleted`);
  }
}

/** Batches of at most `size` records whose event stays under the synchronous payload limit. */
function* batches(records: EsmRecord[], size: number): Generator<EsmRecord[]> {
  let cur: EsmRecord[] = [];
  let bytes = 1024;
  for (const r of records) {
    const b = payloadBytes(r);
    if (cur.length && (cur.length >= size || bytes + b > MAX_PAYLOAD_BYTES)) {
      yield cur;
      cur = [];
      bytes = 1024;
    }
    cur.push(r);
    bytes += b;
  }
  if (cur.length) yield cur;
}

/** Invokes the function with one batch (throttles retried); returns the records that failed, each failure reported. */
async function sendBatch(o: RedriveOptions, batch: EsmRecord[], run: Run): Promise<EsmRecord[]> {
  const { io, summary } = run;
  const event = buildEvent({ bootstrapServers: o.bootstrapServers, eventSourceArn: o.eventSourceArn }, batch);
  let res: RedriveInvokeResult | undefined;
  for (let attempt = 1; attempt <= 6; attempt++) {
    res = await run.invoker.invoke(event);
    if (!res.throttled) break;
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
  const ranges = describe(batch);
  const failures = (res!.response as { batchItemFailures?: Array<{ itemIdentifier?: { partition?: string; offset?: number } }> })
    ?.batchItemFailures;
  let bad: EsmRecord[] = [];
  if (!res!.ok) bad = batch;
  else if (Array.isArray(failures) && failures.length) {
    bad = batch.filter((r) =>
      failures.some(
        (f) => f.itemIdentifier?.partition === `${r.topic}-${r.partition}` && r.offset >= Number(f.itemIdentifier?.offset),
      ),
    );
  }
  summary.failedAgain += bad.length;
  const skipped = bad.length ? 0 : Math.min(res!.skippedDuplicates, batch.length);
  summary.alreadyDone += skipped;
  summary.redriven += batch.length - bad.length - skipped;
  if (skipped)
    io.err(
      `already done: ${skipped} of ${ranges} were done before at function ${o.functionName} (the dispatcher's idempotency) and not run again; ` +
        'records the dispatcher logged to its error topic count as done there: to run them again, redrive them to a dispatcher with its own idempotency table',
    );
  if (bad.length)
    io.err(
      `failed again: ${describe(bad)} sent to function ${o.functionName}: ${res!.functionError ?? 'batchItemFailures'}${
        res!.statusCode ? ` (status ${res!.statusCode})` : ''
      }; fix the function (its log names the cause) and run redrive again: what succeeded is in ${o.stateFile}`,
    );
  else if (skipped < batch.length) io.err(`redriven: ${ranges} -> function ${o.functionName}`);
  return bad;
}

/** "topic-p@first..last" per partition of the records. */
function describe(records: EsmRecord[]): string {
  const by = new Map<string, number[]>();
  for (const r of records)
    (by.get(`${r.topic}-${r.partition}`) ?? by.set(`${r.topic}-${r.partition}`, []).get(`${r.topic}-${r.partition}`)!).push(
      r.offset,
    );
  return [...by]
    .map(([k, offs]) => `${k}@${Math.min(...offs)}${offs.length > 1 ? `..${Math.max(...offs)}` : ''} (${offs.length})`)
    .join(', ');
}

/** Waits so that the records sent stay at or under the bound per second. */
function rateBound(perSecond: number | undefined): (n: number) => Promise<void> {
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
