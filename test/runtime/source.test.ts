import * as fs from 'fs';
import * as path from 'path';
import {
  comparePositions,
  coordinatesKey,
  decodeSourceEvent,
  eventSourceKind,
  formatRecord,
  IdempotencyInProgressError,
  isEmptyEvent,
  KafkaEventDecodeError,
  KinesisEventDecodeError,
  nextPosition,
  PayloadTooLargeError,
  planBatches,
  TargetInvocationError,
  UnsupportedEventError,
} from '../../runtime';
import { bigSequence, kafkaEvent, kinesisEvent, partitionSpecs } from './support';

const fixture = (name: string): any =>
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'events', name), 'utf8'));

describe('the dispatcher tells Kafka and Kinesis events apart by their shape', () => {
  test.each([
    ['a SelfManagedKafka event', () => fixture('self-managed-guide-example.json'), 'kafka'],
    ['an aws:kafka (MSK) event', () => fixture('msk-guide-example.json'), 'kafka'],
    ['an aws:kinesis event', () => fixture('kinesis-guide-example.json'), 'kinesis'],
  ])('%s', (_label, event, kind) => {
    // GIVEN an event of the ESM WHEN its kind is asked THEN it is the right source
    expect(eventSourceKind(event())).toBe(kind);
  });

  test.each<[string, unknown, RegExp]>([
    ['fails on an SQS event', fixture('not-kafka-sqs.json'), /not a Kafka or Kinesis event: eventSource is "aws:sqs"/],
    ['fails on an object without records', { foo: 1 }, /eventSource is undefined, fields \["foo"\]/],
    ['fails on an array', [], /expected an object, got an array/],
    ['fails on null', null, /expected an object, got null/],
  ])('%s with UnsupportedEventError', (_label, event, message) => {
    // GIVEN an event of neither source WHEN decoded THEN a typed error says what it has and what is expected
    expect(() => decodeSourceEvent(event)).toThrow(UnsupportedEventError);
    expect(() => decodeSourceEvent(event)).toThrow(message);
  });

  test("fails with the source's own typed error when the shape is recognised but malformed", () => {
    // GIVEN a Kinesis event whose shard is out of order, and a Kafka event whose records are misgrouped
    const kinesis = fixture('kinesis-guide-example.json');
    kinesis.Records.reverse();
    // THEN each source's decode error names the reason
    expect(() => decodeSourceEvent(kinesis)).toThrow(KinesisEventDecodeError);
    expect(() => decodeSourceEvent({ eventSource: 'aws:kafka', records: { 'orders-0': ['not a record'] } })).toThrow(
      KafkaEventDecodeError,
    );
  });

  test('a Kinesis record that cannot be decoded is a failure with stream, shard and sequence number as coordinates', () => {
    // GIVEN three records, the second with data that is not base64
    const { kind, records, failures, envelope } = decodeSourceEvent(fixture('kinesis-invalid-data.json'));
    // THEN two records and one failure whose coordinates are the stream, shard id and sequence number
    expect([kind, records.length, envelope]).toEqual(['kinesis', 2, { eventSource: 'aws:kinesis' }]);
    expect(failures).toEqual([
      {
        topic: 'lambda-stream',
        partition: 'shardId-000000000001',
        offset: '49590338271490256608559692538361571095921575989136588802',
        error: expect.objectContaining({ name: 'KinesisRecordDecodeError' }),
        raw: expect.objectContaining({ kinesis: expect.objectContaining({ data: 'not base64!' }) }),
      },
    ]);
  });

  test('an event without Kinesis records is empty, one with records is not', () => {
    expect(isEmptyEvent({ Records: [] })).toBe(true);
    expect(isEmptyEvent(fixture('kinesis-guide-example.json'))).toBe(false);
    expect(isEmptyEvent({ Records: [], other: 1 })).toBe(false);
  });
});

describe('Kinesis coordinates', () => {
  test('sequence numbers beyond double precision order, advance and key exactly', () => {
    // GIVEN sequence numbers that a double cannot tell apart
    const a = bigSequence(1);
    const b = bigSequence(2);
    expect(Number(a)).toBe(Number(b));
    // THEN they compare as bigints, even with different lengths, and the next one is exact
    expect(comparePositions(a, b)).toBeLessThan(0);
    expect(comparePositions(b, a)).toBeGreaterThan(0);
    expect(comparePositions(a, a)).toBe(0);
    expect(comparePositions('999', '1000')).toBeLessThan(0);
    expect(nextPosition(a)).toBe(b);
    expect(nextPosition(7)).toBe(8);
    // AND the idempotency keys are stream-shard-sequence, distinct per record and per shard
    const records = decodeSourceEvent(
      kinesisEvent([
        { stream: 's', shardId: 'shardId-000000000000', sequenceNumber: a },
        { stream: 's', shardId: 'shardId-000000000000', sequenceNumber: b },
        { stream: 's', shardId: 'shardId-000000000001', sequenceNumber: a },
      ]),
    ).records;
    expect(records.map(coordinatesKey)).toEqual([
      `s-shardId-000000000000-${a}`,
      `s-shardId-000000000000-${b}`,
      `s-shardId-000000000001-${a}`,
    ]);
  });

  test('errors name stream/shard@sequence; Kafka errors keep topic-partition@offset', () => {
    const seq = bigSequence(9);
    expect(
      new TargetInvocationError('boom', 'clicks', 'shardId-000000000002', seq, nextPosition(seq), {
        statusCode: 200,
        functionError: 'Unhandled',
      }).message,
    ).toBe(`clicks/shardId-000000000002@${seq}..${seq}: boom`);
    expect(new TargetInvocationError('boom', 'orders', 1, 6, 7, { statusCode: 200, functionError: 'Unhandled' }).message).toBe(
      'orders-1@6..6: boom',
    );
    expect(new PayloadTooLargeError('clicks', 'shardId-000000000002', seq, 10, 5).message).toMatch(
      new RegExp(`^Kinesis record clicks/shardId-000000000002@${seq}: invocation payload`),
    );
    expect(new IdempotencyInProgressError('orders', 0, 3).message).toMatch(/^Kafka record orders-0@3: /);
  });
});

describe('payload formats with Kinesis records', () => {
  const seq = bigSequence(5);
  const [record] = decodeSourceEvent(
    kinesisEvent([
      { stream: 'clicks', shardId: 'shardId-000000000003', sequenceNumber: seq, partitionKey: '42', value: { v: 1 } },
    ]),
  ).records;

  test('Confluent: stream as topic, shard id as partition, sequence number as a string offset, partition key as text', () => {
    expect(JSON.parse(formatRecord(record, 'confluent'))).toEqual({
      payload: {
        timestamp: 1_700_000_000_123,
        topic: 'clicks',
        partition: 'shardId-000000000003',
        offset: seq,
        key: '42',
        value: { v: 1 },
      },
    });
  });

  test.each(['nordstrom-plain', 'nordstrom-json'] as const)('%s: the same coordinates, LogAppendTime, no headers', (format) => {
    expect(JSON.parse(formatRecord(record, format))).toMatchObject({
      key: '42',
      topic: 'clicks',
      partition: 'shardId-000000000003',
      offset: seq,
      timestamp: 1_700_000_000_123,
      timestampTypeName: 'LogAppendTime',
      headers: [],
      value: format === 'nordstrom-json' ? { v: 1 } : '{"v":1}',
    });
  });

  test("raw: the aws:kinesis event with the batch's records only", () => {
    // GIVEN three records of one shard WHEN planned in batches of two
    const event = kinesisEvent(
      [1, 2, 3].map((i) => ({ stream: 'clicks', shardId: 'shardId-000000000000', sequenceNumber: bigSequence(i), value: { i } })),
    );
    const decoded = decodeSourceEvent(event);
    const plan = planBatches(decoded.records, 'raw', 2, 1 << 20, decoded.envelope);
    // THEN each payload is { Records: [...] } with the records exactly as the event carried them
    expect(plan.map((b) => JSON.parse((b as { payload: string }).payload))).toEqual([
      { Records: event.Records.slice(0, 2) },
      { Records: event.Records.slice(2) },
    ]);
  });

  test('Kafka records keep their formats and numeric coordinates', () => {
    const [kafka] = decodeSourceEvent(kafkaEvent(partitionSpecs('t', 1, 5, 1))).records;
    expect(JSON.parse(formatRecord(kafka, 'confluent')).payload).toMatchObject({
      topic: 't',
      partition: 1,
      offset: 5,
      key: 'k5',
    });
  });
});
