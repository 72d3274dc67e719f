/** The redrive command's flags and what it reads from on-failure and error records. */
import { parseRedriveArgs } from '../../cli/redrive/options';
import { errorRecordItem, onFailureRanges } from '../../cli/redrive/sources';

describe('redrive flags', () => {
  const base = ['--bootstrap-servers', 'b:9092', '--function-name', 'dispatcher'];

  test('one source is required, and the brokers and the function', () => {
    expect(() => parseRedriveArgs(base)).toThrow(
      /give one source: --from-sqs QUEUE_URL, --from-s3 s3:\/\/BUCKET\[\/PREFIX\] or --from-error-topic TOPIC/,
    );
    expect(() => parseRedriveArgs([...base, '--from-sqs', 'q', '--from-error-topic', 'e'])).toThrow(/give one source/);
    expect(() => parseRedriveArgs([...base, '--from-sqs', 'q', '--from-s3', 's3://b'])).toThrow(/give one source/);
    expect(() => parseRedriveArgs([...base, '--from-s3', 'bucket'])).toThrow(/--from-s3 must be s3:\/\/BUCKET/);
    expect(() => parseRedriveArgs(['--from-error-topic', 'e', '--function-name', 'f'])).toThrow(
      /--bootstrap-servers is required/,
    );
    expect(() => parseRedriveArgs(['--from-sqs', 'q', '--bootstrap-servers', 'b:1'])).toThrow(/--function-name is required/);
    expect(() => parseRedriveArgs([...base, '--from-sqs', 'q', '--max-records-per-second', '0'])).toThrow(
      /--max-records-per-second must be a number above 0, got "0"/,
    );
  });

  test('defaults: the state file under the current directory, 100 records per invocation, SASL as local reads it', () => {
    const o = parseRedriveArgs([
      ...base,
      '--from-error-topic',
      'errors',
      '--sasl',
      'scram-sha-512',
      '--username',
      'u',
      '--password',
      'p',
    ]);
    expect(o).toMatchObject({
      fromErrorTopic: 'errors',
      stateFile: `${process.cwd()}/.cdk-kafka-lambda-redrive.json`,
      batchSize: 100,
      dryRun: false,
      kafka: { brokers: ['b:9092'], sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } },
    });
  });
});

describe('redrive sources', () => {
  test('an on-failure record gives its ranges per topic-partition, also delivered through SNS', () => {
    const rec = {
      KafkaBatchInfo: {
        recordsInfo: {
          'my-topic-0': { firstRecordOffset: '4', lastRecordOffset: '9' },
          'my-topic-12': { firstRecordOffset: '0', lastRecordOffset: '0' },
        },
      },
    };
    const want = [
      { topic: 'my-topic', partition: 0, first: 4, last: 9 },
      { topic: 'my-topic', partition: 12, first: 0, last: 0 },
    ];
    expect(onFailureRanges(JSON.stringify(rec))).toEqual(want);
    expect(onFailureRanges(JSON.stringify({ Type: 'Notification', Message: JSON.stringify(rec) }))).toEqual(want);
    expect(() => onFailureRanges(JSON.stringify({ KinesisBatchInfo: {} }))).toThrow(/not a Kafka on-failure record/);
  });

  test('an error record: carried records as they are, truncated ones by offset, no records by its key range', () => {
    const key = JSON.stringify({ topic: 't', partition: 2, startOffset: 5, endOffset: 8 });
    const item = errorRecordItem(
      'e',
      key,
      JSON.stringify({
        records: [
          { offset: 5, value: 'YQ==' },
          { truncated: true, offset: 6 },
          { offset: 7, value: 'Yw==' },
        ],
      }),
    );
    expect(item.records.map((r) => [r.topic, r.partition, r.offset])).toEqual([
      ['t', 2, 5],
      ['t', 2, 7],
    ]);
    expect(item.ranges).toEqual([{ topic: 't', partition: 2, first: 6, last: 6 }]);
    expect(errorRecordItem('e', key, JSON.stringify({ functionName: 'f' })).ranges).toEqual([
      { topic: 't', partition: 2, first: 5, last: 7 },
    ]);
  });
});

describe('redrive invocations', () => {
  test("the dispatcher's skipped duplicates and error-path records come from the last embedded-metric line of the log tail", () => {
    // GIVEN log tails with the dispatcher's metric lines, one cut by the tail's bound
    const { dispatcherCounts } = require('../../cli/redrive/invoke') as typeof import('../../cli/redrive/invoke');
    const emf = (skipped: number, failed = 0, dropped = 0) =>
      `{"_aws":{"Timestamp":1},"service":"d","RecordsIn":3,"RecordsSkippedDuplicate":${skipped},"RecordsFailed":${failed},"RecordsDropped":${dropped}}`;
    // WHEN they are read THEN the last whole line counts
    expect(dispatcherCounts(`START\n${emf(1)}\nEND`)).toEqual({ skippedDuplicates: 1, errorPath: 0 });
    expect(dispatcherCounts(`${emf(1)}\n2026-12-07T00:00:00Z\tid\tINFO\t${emf(3, 2, 1)}\n{"_aws":{"cut`)).toEqual({
      skippedDuplicates: 3,
      errorPath: 3,
    });
    expect(dispatcherCounts('a plain log line\n')).toEqual({ skippedDuplicates: 0, errorPath: 0 });
  });
});

describe('redrive: Kinesis and S3 on-failure records', () => {
  const { onFailureItem } = require('../../cli/redrive/sources') as typeof import('../../cli/redrive/sources');
  const kinesisBatchInfo = {
    shardId: 'shardId-000000000001',
    startSequenceNumber: '49601189658422359378836298521827638475320189012309704722',
    endSequenceNumber: '49601189658422359378836298522902373528957594348623495186',
    approximateArrivalOfFirstRecord: '2019-11-14T00:38:04.835Z',
    approximateArrivalOfLastRecord: '2019-11-14T00:38:05.580Z',
    batchSize: 500,
    streamArn: 'arn:aws:kinesis:us-east-2:123456789012:stream/mystream',
  };

  test('a KinesisBatchInfo record (as seed 003 shows it) gives its shard sequence range, also through SNS', () => {
    // GIVEN the example invocation record of Lambda's Kinesis docs
    const body = JSON.stringify({ version: '1.0', KinesisBatchInfo: kinesisBatchInfo });
    // WHEN it is read, raw and as an SNS notification
    const raw = onFailureItem('m', body);
    const sns = onFailureItem('m', JSON.stringify({ Type: 'Notification', Message: body }));
    // THEN it names the range to read again, sequence numbers kept as the decimal strings they are
    const want = {
      streamArn: kinesisBatchInfo.streamArn,
      shardId: 'shardId-000000000001',
      start: kinesisBatchInfo.startSequenceNumber,
      end: kinesisBatchInfo.endSequenceNumber,
      batchSize: 500,
    };
    expect(raw.sequences).toEqual([want]);
    expect(sns.sequences).toEqual([want]);
    expect(raw.ranges).toEqual([]);
  });

  test('a Kafka S3 object carries its records in payload (the whole event); without payload its ranges are read again', () => {
    // GIVEN an S3 object as seed 002 shows it: KafkaBatchInfo plus payload, the event as an escaped JSON string
    const rec = { topic: 't', partition: 3, offset: 7, timestamp: 1, timestampType: 'CREATE_TIME', value: 'YQ==', headers: [] };
    const info = { recordsInfo: { 't-3': { firstRecordOffset: '7', lastRecordOffset: '7' } } };
    const payload = JSON.stringify({ eventSource: 'SelfManagedKafka', bootstrapServers: 'b:9092', records: { 't-3': [rec] } });
    // WHEN it is read
    const withPayload = onFailureItem('o', JSON.stringify({ KafkaBatchInfo: info, payload }), { doneKey: 's3://b/k' });
    const without = onFailureItem('o', JSON.stringify({ KafkaBatchInfo: info }));
    // THEN the carried records go as they are, and the object is what is recorded as done
    expect(withPayload).toMatchObject({
      records: [rec],
      ranges: [],
      doneKey: 's3://b/k',
      eventSource: { bootstrapServers: 'b:9092' },
    });
    expect(without).toMatchObject({ records: [], ranges: [{ topic: 't', partition: 3, first: 7, last: 7 }] });
  });

  test('fails naming what is wrong, never quoting the bytes', () => {
    expect(() => onFailureItem('o', 'secret-bytes-not-json')).toThrow(/^is not JSON$/);
    expect(() => onFailureItem('o', JSON.stringify({ requestContext: {} }))).toThrow(
      /neither KafkaBatchInfo nor KinesisBatchInfo/,
    );
    expect(() => onFailureItem('o', JSON.stringify({ KinesisBatchInfo: { shardId: 's' } }))).toThrow(
      /has no KinesisBatchInfo.startSequenceNumber/,
    );
  });

  test('parses s3://bucket[/prefix]', () => {
    const { parseS3Uri } = require('../../cli/redrive/s3-source') as typeof import('../../cli/redrive/s3-source');
    expect(parseS3Uri('s3://b')).toEqual({ bucket: 'b', prefix: '' });
    expect(parseS3Uri('s3://b/aws/lambda/')).toEqual({ bucket: 'b', prefix: 'aws/lambda/' });
    expect(() => parseS3Uri('b/k')).toThrow(/not an s3:\/\/BUCKET\[\/PREFIX\] URI/);
  });
});

describe('redrive: reading a Kinesis range again', () => {
  const { readSequenceRange } = require('../../cli/redrive/kinesis-reader') as typeof import('../../cli/redrive/kinesis-reader');
  const range = {
    streamArn: 'arn:aws:kinesis:us-east-1:1:stream/s',
    shardId: 'shardId-000000000000',
    start: '10',
    end: '12',
    batchSize: 3,
  };
  const rec = (seq: number) => ({
    SequenceNumber: String(seq),
    PartitionKey: 'k',
    Data: Buffer.from('d'),
    ApproximateArrivalTimestamp: new Date(0),
  });
  /** A fake Kinesis API: GetShardIterator answers `iterator` (or throws), GetRecords the pages in order. */
  const fake = (pages: Array<{ Records: any[]; NextShardIterator?: string; MillisBehindLatest?: number }>, refuse?: string) => {
    const sent: any[] = [];
    return {
      sent,
      send: async (cmd: any) => {
        sent.push(cmd.input);
        if ('ShardIteratorType' in cmd.input) {
          if (refuse) throw Object.assign(new Error('trimmed'), { name: refuse });
          return { ShardIterator: 'it' };
        }
        return pages.shift() ?? { Records: [], NextShardIterator: 'it', MillisBehindLatest: 0 };
      },
    } as any;
  };

  test('reads AT_SEQUENCE_NUMBER until past the end sequence number, as aws:kinesis records', async () => {
    // GIVEN a shard holding 10..14 in two pages
    const client = fake([
      { Records: [rec(10), rec(11)], NextShardIterator: 'it', MillisBehindLatest: 10 },
      { Records: [rec(12), rec(13), rec(14)], NextShardIterator: 'it', MillisBehindLatest: 0 },
    ]);
    // WHEN the range 10..12 is read
    const r = await readSequenceRange(client, range);
    // THEN exactly 10..12 come back, each as the mapping's event carries it
    expect(client.sent[0]).toMatchObject({ ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: '10' });
    expect(r.records.map((x) => x.raw.eventID)).toEqual([
      'shardId-000000000000:10',
      'shardId-000000000000:11',
      'shardId-000000000000:12',
    ]);
    expect(r.records[0].raw).toMatchObject({
      eventSource: 'aws:kinesis',
      eventSourceARN: range.streamArn,
      awsRegion: 'us-east-1',
    });
    expect(r.expired).toBeUndefined();
    expect(r.unreadable).toBeUndefined();
  });

  test('a shard whose first record is later than the start: the records before it are expired, the rest read', async () => {
    const r = await readSequenceRange(fake([{ Records: [rec(12), rec(13)], NextShardIterator: 'it' }]), range);
    expect(r.records.map((x) => x.sequenceNumber)).toEqual(['12']);
    expect(r.expired).toMatchObject({ count: 2, firstHeld: '12' });
  });

  test.each(['InvalidArgumentException'])('a sequence number refused (%s) is expired: the whole batch', async (name) => {
    const r = await readSequenceRange(fake([], name), range);
    expect(r).toMatchObject({ records: [], expired: { count: 3 } });
    expect(r.expired!.reason).toContain(name);
  });

  test('a range not in the shard now (its tip reached first) is unreadable; a stream not found names the fix', async () => {
    const r = await readSequenceRange(fake([{ Records: [rec(10)], NextShardIterator: 'it', MillisBehindLatest: 0 }]), range);
    expect(r.records).toHaveLength(1);
    expect(r.unreadable).toMatch(/holds nothing up to 12/);
    const gone = await readSequenceRange(fake([], 'ResourceNotFoundException'), range);
    expect(gone.unreadable).toMatch(/ResourceNotFoundException: trimmed; check --kinesis-endpoint/);
  });

  test('a shard deleted after retention is expired; a GetRecords failure leaves the range unread, nothing of it sent', async () => {
    const shardGone = fake([]);
    shardGone.send = async () => {
      throw Object.assign(new Error('Shard shardId-000000000000 in stream s under account 1 does not exist'), {
        name: 'ResourceNotFoundException',
      });
    };
    expect(await readSequenceRange(shardGone, range)).toMatchObject({ records: [], expired: { count: 3 } });
    const failing = fake([{ Records: [rec(10)], NextShardIterator: 'it', MillisBehindLatest: 5 }]);
    const send = failing.send;
    let calls = 0;
    failing.send = async (cmd: any) => {
      if (++calls === 3) throw Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
      return send(cmd);
    };
    const r = await readSequenceRange(failing, range);
    expect(r).toMatchObject({ records: [], unreadable: expect.stringMatching(/ProvisionedThroughputExceededException/) });
  });
});

describe('redrive progress', () => {
  const { createProgress, progressText, duration } =
    require('../../cli/redrive/progress') as typeof import('../../cli/redrive/progress');
  const fakeTty = (isTTY: boolean, columns = 200) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns, write: (c: string) => chunks.push(c) } };
  };

  test('on a terminal: one line rewritten in place with sent/total, rate and ETA; lines that stay clear it first', () => {
    // GIVEN a terminal and a clock
    const tty = fakeTty(true);
    const err: string[] = [];
    let t = 0;
    const p = createProgress({ tty: tty.stream, err: (l) => err.push(`${tty.chunks.length}:${l}`), now: () => t });
    // WHEN a line comes before the sending starts, then 500 records are to go and two invocations of 100 are sent,
    // 5 s apart, with a problem in between
    t = -3_000;
    p.line('redrive: 1 failed batch(es) from q');
    t = 0;
    p.setTotal(500);
    t = 5_000;
    p.sent(100, 'redriven: t-0@0..99 -> function f');
    p.line('failed again: t-0@100..199 ...');
    t = 10_000;
    p.sent(100, 'redriven: t-0@200..299 -> function f');
    p.end();
    // THEN the line is rewritten with \r, never a newline, and the per-invocation lines are not printed
    const drawn = tty.chunks.filter((c) => c.startsWith('\r\x1b[K') && c.length > 4);
    expect(drawn[1]).toBe('\r\x1b[Kredrive: 100/500 records (20%), 20.0 records/s, ETA 0:20');
    expect(drawn[drawn.length - 1]).toBe('\r\x1b[Kredrive: 200/500 records (40%), 20.0 records/s, ETA 0:15');
    expect(tty.chunks.join('')).not.toContain('\n');
    // AND a line that stays is written after the progress line was cleared, and the last chunk clears it
    expect(err).toEqual(['0:redrive: 1 failed batch(es) from q', '3:failed again: t-0@100..199 ...']);
    expect(tty.chunks[2]).toBe('\r\x1b[K');
    expect(tty.chunks[tty.chunks.length - 1]).toBe('\r\x1b[K');
  });

  test('not a terminal: one line per invocation, as before, and no control characters', () => {
    const tty = fakeTty(false);
    const err: string[] = [];
    const p = createProgress({ tty: tty.stream, err: (l) => err.push(l) });
    p.setTotal(2);
    p.sent(1, 'redriven: a -> function f');
    p.sent(1);
    p.line('expired: b');
    p.end();
    expect(err).toEqual(['redriven: a -> function f', 'expired: b']);
    expect(tty.chunks).toEqual([]);
  });

  test('the line fits the terminal; durations read h:mm:ss', () => {
    const tty = fakeTty(true, 20);
    createProgress({ tty: tty.stream, err: () => undefined }).setTotal(10);
    expect(tty.chunks[0]).toBe('\r\x1b[Kredrive: 0/10 recor');
    expect(progressText(0, 0, 0)).toBe('redrive: 0/0 records (100%), 0.0 records/s');
    expect(duration(3725)).toBe('1:02:05');
    expect(duration(65)).toBe('1:05');
  });
});

describe('redrive: the rate bound', () => {
  test('--max-records-per-second 20: four batches of 10 start no sooner than 1.5 s after the first', async () => {
    // GIVEN a bound of 20 records a second
    const { rateBound } = require('../../cli/redrive/redrive') as typeof import('../../cli/redrive/redrive');
    const rate = rateBound(20);
    // WHEN four batches of 10 records are sent
    const starts: number[] = [];
    for (let i = 0; i < 4; i++) {
      await rate(10);
      starts.push(Date.now());
    }
    // THEN each starts half a second after the one before, at the earliest
    for (let i = 1; i < 4; i++) expect(starts[i] - starts[0]).toBeGreaterThanOrEqual(i * 500 - 5);
    // AND without a bound nothing waits
    const free = rateBound(undefined);
    const t = Date.now();
    for (let i = 0; i < 100; i++) await free(1_000);
    expect(Date.now() - t).toBeLessThan(1_000);
  });
});
