import * as fs from 'fs';
import * as path from 'path';
import { decodeEvent, decodeEventLenient, KafkaEventDecodeError, KafkaRecordDecodeError } from '../../runtime';

const fixture = (name: string): any => JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8'));

describe('decodeEvent', () => {
  test('decodes the self-managed Kafka example event of seed 002', () => {
    // GIVEN the seed's example event
    const event = fixture('self-managed-seed002.json');
    // WHEN decoded
    const [record, ...rest] = decodeEvent(event);
    // THEN one record with coordinates, key, value and headers
    expect(rest).toHaveLength(0);
    expect(record).toMatchObject({ topic: 'mytopic', partition: 0, offset: 15, timestamp: 1545084650987, timestampType: 'CREATE_TIME' });
    expect(record.key).toEqual(Buffer.from('abcDEFghiJKLmnoPQRstuVWXyz1234==', 'base64'));
    expect(record.valueAsText()).toBe('Hello, this is a test.');
    expect(record.headers).toEqual([{ key: 'headerKey', value: Buffer.from('headerValue') }]);
    expect(record.header('headerKey')?.toString()).toBe('headerValue');
  });

  test('decodes the MSK example event of seed 004: string partition becomes a number, absent key is null', () => {
    // GIVEN the MSK example, whose partition is the string "0" and which has no key
    const event = fixture('msk-seed004.json');
    // WHEN decoded
    const [record] = decodeEvent(event);
    // THEN partition is the number 0 and key is null
    expect(record.partition).toBe(0);
    expect(record.topicPartition).toBe('mytopic-0');
    expect(record.key).toBeNull();
    expect(record.keyAsText()).toBeNull();
    expect(record.valueAsText()).toBe('Hello, this is a test.');
  });

  test('keeps input order: groups in event order, records in array order', () => {
    // GIVEN an event with three topic-partitions, not sorted
    const event = fixture('multi-partition.json');
    // WHEN decoded
    const records = decodeEvent(event);
    // THEN the order is the event's
    expect(records.map((r) => `${r.topicPartition}@${r.offset}`)).toEqual([
      'orders-1@100', 'orders-1@101', 'orders-1@103', 'orders-0@7', 'payments-0@0',
    ]);
  });

  test('tombstones, empty keys, JSON and binary headers', () => {
    // GIVEN records with a null value, an empty key, a JSON value and a binary header
    const records = decodeEvent(fixture('multi-partition.json'));
    // THEN each is represented exactly
    expect(records[0].valueAsJson()).toEqual({ orderId: 'A-1', amount: 12.5 });
    expect(records[0].headers.map((h) => [h.key, h.value.toString()])).toEqual([['trace-id', 't-1'], ['source', 'web']]);
    expect(records[1].value).toBeNull();
    expect(records[1].valueAsJson()).toBeNull();
    expect(records[2].key).toBeNull();
    expect(records[2].timestampType).toBe('LOG_APPEND_TIME');
    expect(records[3].key).toEqual(Buffer.alloc(0));
    expect(records[4].valueAsJson()).toBe(42);
    expect(records[4].headers[0].value).toEqual(Buffer.from([0, 255, 1]));
  });

  test('fails with KafkaRecordDecodeError naming the record when a value is not JSON and JSON is asked for', () => {
    const records = decodeEvent(fixture('multi-partition.json'));
    expect(() => records[2].valueAsJson()).toThrow(KafkaRecordDecodeError);
    expect(() => records[2].valueAsJson()).toThrow(/orders-1@103: value is not JSON/);
  });

  test.each([
    ['a foreign character', 'SGVs*G8='],
    ['padding in the middle', 'SG=sbG8='],
    ['a missing pad character', 'SGVsbG8'],
    ['a space', 'SGVs bG8='],
    ['only padding', '===='],
    ['trailing data after padding', 'SGVsbA=a'],
    ['a number instead of text', 42],
  ])('fails with KafkaRecordDecodeError for a value with %s', (_label, value) => {
    // GIVEN a record whose value is not valid base64
    const event = fixture('multi-partition.json');
    event.records['orders-1'][1].value = value;
    // WHEN decoded THEN the typed error names topic-partition-offset
    let error: unknown;
    try { decodeEvent(event); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(KafkaRecordDecodeError);
    expect(error).toMatchObject({ name: 'KafkaRecordDecodeError', topic: 'orders', partition: 1, offset: 101 });
    expect((error as Error).message).toMatch(/orders-1@101: value is not valid base64/);
  });

  test('fails with KafkaRecordDecodeError for a key that is not base64', () => {
    const event = fixture('multi-partition.json');
    event.records['orders-0'][0].key = 'not base64!';
    expect(() => decodeEvent(event)).toThrow(/orders-0@7: key is not valid base64/);
  });

  test('lenient decoding returns the good records and one error per bad record', () => {
    // GIVEN an event with one bad value
    const event = fixture('invalid-base64-value.json');
    // WHEN decoded leniently
    const { records, failures } = decodeEventLenient(event);
    // THEN the other four records are decoded and the bad one is reported
    expect(records.map((r) => r.offset)).toEqual([100, 103, 7, 0]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ topic: 'orders', partition: 1, offset: 101 });
  });

  test.each([
    ['an SQS event', fixture('not-kafka-sqs.json'), /eventSource is undefined/],
    ['null', null, /expected an object, got null/],
    ['a string', 'hello', /expected an object/],
    ['a Kinesis event source', { eventSource: 'aws:kinesis', records: {} }, /eventSource is "aws:kinesis"/],
    ['records as an array', { eventSource: 'aws:kafka', records: [] }, /records must be an object keyed "topic-partition", got an array/],
    ['a group that is not an array', { eventSource: 'aws:kafka', records: { 't-0': {} } }, /records\["t-0"\] must be an array/],
  ])('fails with KafkaEventDecodeError for %s', (_label, event, message) => {
    expect(() => decodeEvent(event)).toThrow(KafkaEventDecodeError);
    expect(() => decodeEvent(event)).toThrow(message);
  });

  test('fails with KafkaEventDecodeError when records are not grouped by topic-partition', () => {
    // GIVEN a record of orders-1 inside the orders-0 group
    const event = fixture('misgrouped.json');
    // THEN the error names the group and the stray record
    expect(() => decodeEvent(event)).toThrow(/records\["orders-0"\]\[1\] \(offset 100\) belongs to "orders"-1/);
  });

  test('fails with KafkaEventDecodeError when the group key does not match its records', () => {
    const event = fixture('multi-partition.json');
    event.records['orders-9'] = event.records['orders-0'];
    delete event.records['orders-0'];
    expect(() => decodeEvent(event)).toThrow(/records\["orders-9"\]\[0\] has topic "orders" and partition 0/);
  });

  test.each([
    ['decreasing', [5, 4]],
    ['repeated', [5, 5]],
    ['negative', [-1]],
    ['fractional', [1.5]],
    ['a non-numeric string', ['x']],
  ])('fails with KafkaEventDecodeError for %s offsets', (_label, offsets) => {
    const base = fixture('multi-partition.json').records['orders-1'][0];
    const event = { eventSource: 'SelfManagedKafka', records: { 'orders-1': (offsets as unknown[]).map((offset) => ({ ...base, offset })) } };
    expect(() => decodeEvent(event)).toThrow(KafkaEventDecodeError);
  });

  test('an empty event decodes to no records', () => {
    expect(decodeEvent({ eventSource: 'SelfManagedKafka', records: {} })).toEqual([]);
  });

  test('fails with KafkaRecordDecodeError for malformed headers', () => {
    const event = fixture('multi-partition.json');
    event.records['orders-0'][0].headers = [{ a: [1], b: [2] }];
    expect(() => decodeEvent(event)).toThrow(/orders-0@7: headers must be/);
  });
});
