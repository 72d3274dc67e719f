/**
 * The local Kinesis event source mapping against moto's Kinesis API: handlers in-process (a module of this test's
 * own that records each event), the on-failure queue on moto, checkpoints in a file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import * as te from '../../../testenv';
import { LocalKinesisEsmOptions, LocalKinesisEventSourceMapping } from '../../../cli/kinesis/esm';
import { waitFor } from '../support';

jest.setTimeout(120_000);

interface Put {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: string;
}
/** What the handler module sees and answers: set per test. */
interface Probe {
  events: any[];
  inFlight: number;
  maxInFlight: number;
  answer?: (event: any) => unknown | Promise<unknown>;
}
const probe = (): Probe => ((globalThis as any).__cklKinesis = { events: [], inFlight: 0, maxInFlight: 0 });

describe('local Kinesis event source mapping (moto)', () => {
  const env = te.loadEnv();
  const kinesis = new KinesisClient({ ...te.awsClientConfig('kinesis'), requestHandler: new NodeHttpHandler() });
  const sqs = new SQSClient(te.awsClientConfig('sqs'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-kinesis-'));
  const handler = path.join(dir, 'handler.js');
  const mappings: LocalKinesisEventSourceMapping[] = [];

  beforeAll(() => {
    fs.writeFileSync(
      handler,
      `exports.handler = async (event) => {
  const p = globalThis.__cklKinesis;
  p.events.push(event); p.inFlight++; p.maxInFlight = Math.max(p.maxInFlight, p.inFlight);
  try { return p.answer ? await p.answer(event) : {}; } finally { p.inFlight--; }
};\n`,
    );
  });
  afterAll(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    kinesis.destroy();
    sqs.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function stream(shards: number): Promise<{ name: string; arn: string }> {
    const name = `kesm-${randomUUID().slice(0, 8)}`;
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
    const arn = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!.StreamARN!;
    return { name, arn };
  }
  async function put(name: string, values: string[], key: (i: number) => string = (i) => `key-${i % 5}`): Promise<Put[]> {
    const out = await kinesis.send(
      new PutRecordsCommand({
        StreamName: name,
        Records: values.map((v, i) => ({ PartitionKey: key(i), Data: Buffer.from(v) })),
      }),
    );
    return out.Records!.map((r, i) => ({
      shardId: r.ShardId!,
      sequenceNumber: r.SequenceNumber!,
      partitionKey: key(i),
      data: values[i],
    }));
  }
  async function mapping(o: Partial<LocalKinesisEsmOptions> & { stream: string }): Promise<LocalKinesisEventSourceMapping> {
    const m = new LocalKinesisEventSourceMapping({
      kinesisEndpoint: env.moto.endpoint,
      awsEndpoint: env.moto.endpoint,
      region: env.region,
      handler: `${handler}.handler`,
      checkpointFile: path.join(dir, `${randomUUID()}.json`),
      retryDelayMs: 50,
      pollIntervalMs: 100,
      log: () => undefined,
      ...o,
    });
    mappings.push(m);
    await m.start();
    return m;
  }
  const records = (p: Probe) => p.events.flatMap((e) => e.Records);
  async function queue(): Promise<{ arn: string; url: string }> {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: `kesm-${randomUUID()}` }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    return { arn, url };
  }

  test('builds the aws:kinesis event per shard in sequence order, in batches of at most batchSize, and a restart resumes after the checkpoint', async () => {
    // GIVEN 20 records on a 2-shard stream
    const p = probe();
    const s = await stream(2);
    const puts = await put(
      s.name,
      Array.from({ length: 20 }, (_, i) => `record ${i}`),
    );
    const checkpointFile = path.join(dir, `${s.name}.json`);
    // WHEN the mapping reads it with batches of 3
    const m = await mapping({ stream: s.name, batchSize: 3, checkpointFile });
    await waitFor('20 records done', () => m.stats.recordsCommitted === 20);
    // THEN each record arrived once, shaped as Lambda's Kinesis event, its shard's records in sequence order
    const got = records(p);
    expect(got).toHaveLength(20);
    expect(
      p.events.every((e) => e.Records.length <= 3 && new Set(e.Records.map((r: any) => r.eventID.split(':')[0])).size === 1),
    ).toBe(true);
    for (const put0 of puts) {
      const r = got.find((x: any) => x.eventID === `${put0.shardId}:${put0.sequenceNumber}`);
      expect(r).toEqual({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: put0.partitionKey,
          sequenceNumber: put0.sequenceNumber,
          data: Buffer.from(put0.data).toString('base64'),
          approximateArrivalTimestamp: expect.any(Number),
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${put0.shardId}:${put0.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: expect.stringMatching(/^arn:aws:iam::\d+:role\//),
        awsRegion: env.region,
        eventSourceARN: s.arn,
      });
      expect(Math.abs(r.kinesis.approximateArrivalTimestamp * 1000 - Date.now())).toBeLessThan(120_000);
    }
    for (const shardId of new Set(puts.map((x) => x.shardId))) {
      expect(got.filter((r: any) => r.eventID.startsWith(`${shardId}:`)).map((r: any) => r.kinesis.sequenceNumber)).toEqual(
        puts.filter((x) => x.shardId === shardId).map((x) => x.sequenceNumber),
      );
    }
    // AND the checkpoint file holds each shard's last sequence number
    await m.stop();
    const last = (shardId: string) => puts.filter((x) => x.shardId === shardId).pop()!.sequenceNumber;
    const saved = JSON.parse(fs.readFileSync(checkpointFile, 'utf8'));
    for (const [shardId, c] of Object.entries<any>(saved.shards)) expect(c.sequenceNumber).toBe(last(shardId));

    // WHEN 4 more records arrive and a new mapping starts with the same checkpoint file
    const more = await put(s.name, ['a', 'b', 'c', 'd']);
    const again = probe();
    const m2 = await mapping({ stream: s.name, batchSize: 3, checkpointFile });
    await waitFor('4 new records done', () => m2.stats.recordsCommitted === 4);
    // THEN it reads only the new ones (no replay of the 20)
    expect(
      records(again)
        .map((r: any) => r.eventID)
        .sort(),
    ).toEqual(more.map((x) => `${x.shardId}:${x.sequenceNumber}`).sort());
    expect(m2.stats.recordsRead).toBe(4);
  });

  test('LATEST reads only what is put after the start; AT_TIMESTAMP only what arrived from the timestamp on', async () => {
    // GIVEN records put before the mapping starts
    const s = await stream(1);
    await put(s.name, ['old-1', 'old-2']);
    const p = probe();
    // WHEN a LATEST mapping starts (start() resolves once it holds its iterators) and more records are put
    const latest = await mapping({ stream: s.name, startingPosition: 'LATEST' });
    const fresh = await put(s.name, ['new-1', 'new-2']);
    await waitFor('2 records done', () => latest.stats.recordsCommitted === 2);
    // THEN only the later records were read
    expect(records(p).map((r: any) => r.kinesis.sequenceNumber)).toEqual(fresh.map((x) => x.sequenceNumber));
    await latest.stop();

    // WHEN an AT_TIMESTAMP mapping starts at the first fresh record's arrival
    const q = probe();
    const at = Math.floor(records(p)[0].kinesis.approximateArrivalTimestamp * 1000);
    const byTime = await mapping({ stream: s.name, startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: at });
    await waitFor('2 records done', () => byTime.stats.recordsCommitted === 2);
    // THEN it reads the records that arrived from then on, not the older ones
    expect(records(q).map((r: any) => Buffer.from(r.kinesis.data, 'base64').toString())).toEqual(['new-1', 'new-2']);
  });

  test('bisects a failing batch down to the poison record, retries it MaximumRetryAttempts times, then sends the Kinesis on-failure record to SQS', async () => {
    // GIVEN 8 records on one shard, the sixth of which the function always fails
    const s = await stream(1);
    const puts = await put(
      s.name,
      Array.from({ length: 8 }, (_, i) => (i === 5 ? 'poison' : `ok ${i}`)),
    );
    const poison = puts[5];
    const p = probe();
    p.answer = (event) => {
      if (event.Records.some((r: any) => Buffer.from(r.kinesis.data, 'base64').toString() === 'poison'))
        throw new Error('poison');
      return {};
    };
    const dlq = await queue();
    // WHEN the mapping bisects with 2 retries
    const m = await mapping({
      stream: s.name,
      batchSize: 8,
      bisectBatchOnFunctionError: true,
      retryAttempts: 2,
      onFailure: dlq.arn,
    });
    await waitFor('8 records done', () => m.stats.recordsCommitted === 8);
    // THEN the batch was halved until the poison was alone (8, its halves, the failing half's halves, …); alone it was
    // invoked 1 + 2 times, then the records after it went on
    const alone = p.events.filter((e) => e.Records.length === 1 && e.Records[0].kinesis.sequenceNumber === poison.sequenceNumber);
    expect(alone).toHaveLength(3);
    expect(p.events.map((e) => e.Records.length)).toEqual([8, 4, 4, 2, 1, 1, 1, 1, 2]);
    // AND the on-failure record names the shard, the poison's sequence number range and arrival times, nothing of its data
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
    expect(r.Messages).toHaveLength(1);
    const body = JSON.parse(r.Messages![0].Body!);
    expect(body).toEqual({
      requestContext: {
        requestId: expect.any(String),
        functionArn: expect.stringMatching(/^arn:aws:lambda:/),
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.any(String),
      KinesisBatchInfo: {
        shardId: poison.shardId,
        startSequenceNumber: poison.sequenceNumber,
        endSequenceNumber: poison.sequenceNumber,
        approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        batchSize: 1,
        streamArn: s.arn,
      },
    });
    expect(r.Messages![0].Body).not.toContain(Buffer.from('poison').toString('base64'));
  });

  test('ReportBatchItemFailures: the retry starts at the reported sequence number; an answer naming no record of the batch retries it all', async () => {
    // GIVEN 6 records on one shard; the first answer reports the fourth record, the second names a record not in the batch
    const s = await stream(1);
    const puts = await put(
      s.name,
      Array.from({ length: 6 }, (_, i) => `r${i}`),
    );
    const p = probe();
    const answers = [
      { batchItemFailures: [{ itemIdentifier: puts[3].sequenceNumber }] },
      { batchItemFailures: [{ itemIdentifier: '999999' }] },
    ];
    p.answer = () => answers.shift() ?? { batchItemFailures: [] };
    // WHEN the mapping runs with partial batch responses
    const m = await mapping({ stream: s.name, batchSize: 6, reportBatchItemFailures: true });
    await waitFor('6 records done', () => m.stats.recordsCommitted === 6);
    // THEN the second event starts at the reported record, and the third is that same retry again (the answer was not valid)
    const seqs = p.events.map((e) => e.Records.map((r: any) => r.kinesis.sequenceNumber));
    expect(seqs).toEqual([
      puts.map((x) => x.sequenceNumber),
      puts.slice(3).map((x) => x.sequenceNumber),
      puts.slice(3).map((x) => x.sequenceNumber),
    ]);
    expect(m.stats.failedInvocations).toBe(2);
  });

  test('ParallelizationFactor runs batches of one shard at once, each partition key in order', async () => {
    // GIVEN 60 records of 6 partition keys on one shard, and a function that takes its time
    const s = await stream(1);
    const puts = await put(
      s.name,
      Array.from({ length: 60 }, (_, i) => `v${i}`),
      (i) => `user-${i % 6}`,
    );
    const p = probe();
    let release!: () => void;
    const twoAtOnce = new Promise<void>((r) => {
      release = r;
    });
    p.answer = async () => {
      if (p.inFlight >= 2) release();
      await Promise.race([twoAtOnce, new Promise((r) => setTimeout(r, 2_000).unref())]);
      return {};
    };
    // WHEN the mapping runs 3 batches per shard
    const m = await mapping({ stream: s.name, batchSize: 5, parallelizationFactor: 3 });
    await waitFor('60 records done', () => m.stats.recordsCommitted === 60);
    // THEN batches overlapped, each batch holds keys of one lane, and each key's records came in put order
    expect(p.maxInFlight).toBeGreaterThanOrEqual(2);
    const got = records(p);
    expect(got).toHaveLength(60);
    for (let k = 0; k < 6; k++) {
      expect(got.filter((r: any) => r.kinesis.partitionKey === `user-${k}`).map((r: any) => r.kinesis.sequenceNumber)).toEqual(
        puts.filter((x) => x.partitionKey === `user-${k}`).map((x) => x.sequenceNumber),
      );
    }
    // AND the checkpoint is the shard's last record (every earlier record done)
    expect(m.stats.shards[puts[0].shardId].checkpoint).toBe(puts[59].sequenceNumber);
  });

  test('fails with a clear error for a stream that does not exist, a Kafka on-failure target or a bad parallelization factor', async () => {
    await expect(mapping({ stream: `missing-${randomUUID().slice(0, 8)}` })).rejects.toThrow(
      /stream missing-\w+: ResourceNotFoundException/,
    );
    expect(() => new LocalKinesisEventSourceMapping({ stream: 's', handler: 'h.handler', onFailure: 'kafka://dlq' })).toThrow(
      /onFailure of a Kinesis mapping must be an SQS, SNS or S3 ARN, got "kafka:\/\/dlq"/,
    );
    expect(() => new LocalKinesisEventSourceMapping({ stream: 's', handler: 'h.handler', parallelizationFactor: 11 })).toThrow(
      /parallelizationFactor must be an integer from 1 to 10, got 11/,
    );
  });
});
