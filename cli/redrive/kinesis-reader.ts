/**
 * Reads a Kinesis on-failure record's range again from its stream by sequence number: GetShardIterator
 * AT_SEQUENCE_NUMBER at the start, GetRecords until past the end. The on-failure record holds coordinates only
 * (seed 003, Lambda's with-kinesis.md: "The actual records aren't included, so you must process this record and
 * retrieve them from the stream before they expire"). A range whose start is no longer in the shard (the first
 * record read is later than it, or the sequence number is refused) is past the stream's retention: expired.
 */
import {
  GetRecordsCommand,
  GetRecordsCommandOutput,
  GetShardIteratorCommand,
  KinesisClient,
  _Record as SdkRecord,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { localAwsSettings } from '../aws';
import { ShardRecord, StreamIdentity, toShardRecord } from '../kinesis/event';

/** KinesisBatchInfo: a batch's shard and its first and last sequence numbers. */
export interface SequenceRange {
  readonly streamArn: string;
  readonly shardId: string;
  readonly start: string;
  readonly end: string;
  /** Records in the batch, as the on-failure record says. */
  readonly batchSize: number;
}

export interface SequenceReadResult {
  /** The range's records still in the shard, in sequence order. */
  readonly records: ShardRecord[];
  /** Records of the range past retention: from `start` to before the first record still held (or the whole range). */
  readonly expired?: { readonly count: number; readonly firstHeld?: string; readonly reason: string };
  /** Why the range, or its end, could not be read now. */
  readonly unreadable?: string;
}

export const streamNameOf = (streamArn: string): string => streamArn.slice(streamArn.lastIndexOf('/') + 1);

/** "stream/shardId@sequenceNumber": how output and the state file name a Kinesis record. */
export const kinesisCoordinate = (streamArn: string, shardId: string, sequenceNumber: string): string =>
  `${streamNameOf(streamArn)}/${shardId}@${sequenceNumber}`;

export const sequenceRangeText = (r: SequenceRange): string =>
  `${kinesisCoordinate(r.streamArn, r.shardId, r.start)}${r.end === r.start ? '' : `..${r.end}`} (${r.batchSize} record${r.batchSize === 1 ? '' : 's'})`;

/** The identity the event names: the stream's region, and a role of the stream's account (the mapping's is not known). */
export function streamIdentity(streamArn: string, region?: string): StreamIdentity {
  const [, , , arnRegion, account] = streamArn.split(':');
  return {
    streamArn,
    region: arnRegion || region || 'us-east-1',
    invokeIdentityArn: `arn:aws:iam::${account || '000000000000'}:role/cdk-kafka-lambda-redrive`,
  };
}

export function kinesisClient(endpoint: string | undefined, region: string | undefined): KinesisClient {
  // HTTP/1.1, as the local mapping: emulators (moto) answer only HTTP/1.1.
  return new KinesisClient({ ...localAwsSettings(endpoint, region), requestHandler: new NodeHttpHandler(), maxAttempts: 5 });
}

const ITERATOR_REFUSED = new Set(['InvalidArgumentException']);

/** Reads one range again; never throws for what the stream no longer holds, only for a client that cannot reach it. */
export async function readSequenceRange(
  client: Pick<KinesisClient, 'send'>,
  range: SequenceRange,
  o: { region?: string; timeoutMs?: number } = {},
): Promise<SequenceReadResult> {
  const id = streamIdentity(range.streamArn, o.region);
  let iterator: string | undefined;
  try {
    iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamARN: range.streamArn,
          ShardId: range.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: range.start,
        }),
      )
    ).ShardIterator;
  } catch (e) {
    const err = e as Error;
    if (ITERATOR_REFUSED.has(err.name))
      return { records: [], expired: { count: range.batchSize, reason: `the stream refused the sequence number (${err.name})` } };
    // A closed shard is deleted once its records are past retention; a stream not found is more likely a wrong setting.
    if (err.name === 'ResourceNotFoundException' && /^shard /i.test(err.message))
      return {
        records: [],
        expired: { count: range.batchSize, reason: `the shard no longer exists, past the stream's retention (${err.name})` },
      };
    return { records: [], unreadable: `${err.name}: ${err.message}; check --kinesis-endpoint, --region and the stream` };
  }
  try {
    return await readFrom(client, iterator, range, id, o.timeoutMs ?? 60_000);
  } catch (e) {
    // Nothing of a range half read is sent: a later run reads it whole.
    return { records: [], unreadable: `GetRecords failed (${(e as Error).name}: ${(e as Error).message}); run again` };
  }
}

async function readFrom(
  client: Pick<KinesisClient, 'send'>,
  first: string | undefined,
  range: SequenceRange,
  id: StreamIdentity,
  timeoutMs: number,
): Promise<SequenceReadResult> {
  const start = BigInt(range.start);
  const end = BigInt(range.end);
  const records: ShardRecord[] = [];
  let firstSeen: string | undefined;
  let reachedEnd = false;
  let iterator = first;
  const deadline = Date.now() + timeoutMs;
  while (iterator && !reachedEnd) {
    if (Date.now() > deadline) return finish(range, records, firstSeen, `not read to its end within ${timeoutMs / 1000} s`);
    const out: GetRecordsCommandOutput = await client.send(
      new GetRecordsCommand({ ShardIterator: iterator, StreamARN: range.streamArn, Limit: 10_000 }),
    );
    for (const r of out.Records ?? ([] as SdkRecord[])) {
      const seq = BigInt(r.SequenceNumber!);
      firstSeen ??= r.SequenceNumber!;
      if (seq > end) {
        reachedEnd = true;
        break;
      }
      if (seq >= start) records.push(toShardRecord(id, range.shardId, r));
      if (seq === end) reachedEnd = true;
    }
    iterator = out.NextShardIterator;
    // At the shard's tip with nothing more: the end is not in the shard (yet).
    if (!reachedEnd && !out.Records?.length && (out.MillisBehindLatest ?? 0) === 0) break;
  }
  return finish(range, records, firstSeen, reachedEnd ? undefined : `the shard holds nothing up to ${range.end} now`);
}

function finish(
  range: SequenceRange,
  records: ShardRecord[],
  firstSeen: string | undefined,
  unread?: string,
): SequenceReadResult {
  const trimmed = firstSeen !== undefined && BigInt(firstSeen) > BigInt(range.start);
  if (!trimmed) return { records, ...(unread ? { unreadable: unread } : {}) };
  return {
    records,
    ...(unread ? { unreadable: unread } : {}),
    expired: {
      count: Math.max(range.batchSize - records.length, 1),
      firstHeld: firstSeen,
      reason: `the shard's first record is ${firstSeen}: the records before it are past the stream's retention`,
    },
  };
}
