import * as fs from 'fs';
import * as path from 'path';
import { decodeEvent, decodeEventLenient, KafkaEventDecodeError, KafkaRecord, KafkaRecordDecodeError } from '../../../runtime';

const fixture = (name: string): any =>
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'events', name), 'utf8'));

describe('decodeEvent', () => {
  test("decodes the self-managed Kafka example event of Lambda's self-managed Kafka guide", () => {
    // GIVEN the guide's example event
    const event = fixture('self-managed-guide-example.json');
    // WHEN decoded
    const [record, ...rest] = decodeEvent(event);
    // THEN one record with coordinates, key, value and headers
    expect(rest).toHaveLength(0);
    expect(record).toMatchObject({
      topic: 'mytopic',
      partition: 0,
      offset: 15,
      timestamp: 1545084650987,
      timestampType: 'CREATE_TIME',
    });
    expect(record.key).toEqual(Buffer.from('abcDEFghiJKLmnoPQRstuVWXyz1234==', 'base64'));
    expect(record.valueAsText()).toBe('Hello, this is a test.');
    expect(record.headers).toEqual([{ key: 'headerKey', value: Buffer.from('headerValue') }]);
    expect(record.header('headerKey')?.toString()).toBe('headerValue');
  });

  test("decodes the MSK example event of Lambda's MSK guide: string partition becomes a number, absent key is null", () => {
    // GIVEN the MSK example, whose partition is the string "0" and which has no key
    const event = fixture('msk-guide-example.json');
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
      'orders-1@100',
      'orders-1@101',
      'orders-1@103',
      'orders-0@7',
      'payments-0@0',
    ]);
  });

  test('tombstones, empty keys, JSON and binary headers', () => {
    // GIVEN records with a null value, an empty key, a JSON value and a binary header
    const records = decodeEvent(fixture('multi-partition.json'));
    // THEN each is represented exactly
    expect(records[0].valueAsJson()).toEqual({ orderId: 'A-1', amount: 12.5 });
    expect(records[0].headers.map((h) => [h.key, h.value.toString()])).toEqual([
      ['trace-id', 't-1'],
      ['source', 'web'],
    ]);
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
    try {
      decodeEvent(event);
    } catch (e) {
      error = e;
    }
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
    [
      'records as an array',
      { eventSource: 'aws:kafka', records: [] },
      /records must be an object keyed "topic-partition", got an array/,
    ],
    ['a group that is not an array', { eventSource: 'aws:kafka', records: { 't-0': {} } }, /records\["t-0"\] must be an array/],
  ])('fails with KafkaEventDecodeError for %s', (_label, event, message) => {
    expect(() => decodeEvent(event)).toThrow(KafkaEventDecodeError);
    expect(() => decodeEvent(event)).toThrow(message);
  });

  test('a record of another topic-partition inside a group is a KafkaRecordDecodeError at its position in the group', () => {
    // GIVEN a record of orders-1 inside the orders-0 group, after offset 7
    const event = fixture('misgrouped.json');
    // THEN the error names the group's position after the last good record, and the stray record's place
    expect(() => decodeEvent(event)).toThrow(KafkaRecordDecodeError);
    expect(() => decodeEvent(event)).toThrow(
      /^Kafka record orders-0@\d+: records\["orders-0"\]\[1\] \(offset 100\) names another topic-partition/,
    );
  });

  test('fails with KafkaEventDecodeError when no record of a group can be placed in it', () => {
    const event = fixture('multi-partition.json');
    event.records['orders-9'] = event.records['orders-0'];
    delete event.records['orders-0'];
    expect(() => decodeEvent(event)).toThrow(KafkaEventDecodeError);
    expect(() => decodeEvent(event)).toThrow(/records\["orders-9"\]: no record can be placed in the group/);
  });

  test.each([
    ['decreasing', [5, 4], 6],
    ['repeated', [5, 5], 6],
    ['missing', [5, undefined, 7], 6],
  ])(
    'a record with a %s offset is a failure at the position after the previous record; the others decode',
    (_label, offsets, position) => {
      const base = fixture('multi-partition.json').records['orders-1'][0];
      const event = {
        eventSource: 'SelfManagedKafka',
        records: { 'orders-1': (offsets as unknown[]).map((offset) => ({ ...base, offset })) },
      };
      const { records, failures } = decodeEventLenient(event);
      expect(records.map((r) => r.offset)).toEqual(
        (offsets as (number | undefined)[]).filter((o, i) => o !== undefined && i !== 1),
      );
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ topic: 'orders', partition: 1, offset: position });
      expect(failures[0].raw).toEqual(event.records['orders-1'][1]);
    },
  );

  test('a bad record before the first good one is placed at that offset minus the bad records before it', () => {
    const base = fixture('multi-partition.json').records['orders-1'][0];
    const event = {
      eventSource: 'SelfManagedKafka',
      records: { 'orders-1': ['junk', { ...base, offset: 'x' }, { ...base, offset: 9 }] },
    };
    const { records, failures } = decodeEventLenient(event);
    expect(records.map((r) => r.offset)).toEqual([9]);
    expect(failures.map((f) => f.offset)).toEqual([7, 7]);
  });

  test.each([
    ['negative', [-1]],
    ['fractional', [1.5]],
    ['a non-numeric string', ['x']],
  ])('fails with KafkaEventDecodeError for a group whose only offset is %s', (_label, offsets) => {
    const base = fixture('multi-partition.json').records['orders-1'][0];
    const event = {
      eventSource: 'SelfManagedKafka',
      records: { 'orders-1': (offsets as unknown[]).map((offset) => ({ ...base, offset })) },
    };
    expect(() => decodeEvent(event)).toThrow(KafkaEventDecodeError);
  });

  test.each([
    ['a byte above 255', [1, 256]],
    ['a negative byte', [-1]],
    ['a fraction', [1.5]],
    ['a string', ['a']],
  ])('fails with KafkaRecordDecodeError for a header with %s', (_label, bytes) => {
    const event = fixture('multi-partition.json');
    event.records['orders-0'][0].headers = [{ h: bytes }];
    expect(() => decodeEvent(event)).toThrow(KafkaRecordDecodeError);
    expect(() => decodeEvent(event)).toThrow(/orders-0@7: headers must be .*integers 0-255/);
  });

  test.each([
    [
      'a string timestamp',
      (r: any) => {
        r.timestamp = '2024-01-01';
      },
      /timestamp must be a number/,
    ],
    [
      'an invalid base64 value',
      (r: any) => {
        r.value = 'CANARY-1234!';
      },
      /value is not valid base64 \(a string of 12 characters\)/,
    ],
  ])(
    '%s is a record failure whose message holds no record bytes, with the raw record kept off the enumerable fields',
    (_label, spoil, message) => {
      const event = fixture('multi-partition.json');
      spoil(event.records['orders-0'][0]);
      const { failures } = decodeEventLenient(event);
      expect(failures[0].message).toMatch(message);
      expect(failures[0].message).not.toContain('CANARY');
      expect(failures[0].raw).toBe(event.records['orders-0'][0]);
      expect(JSON.stringify({ ...failures[0] })).not.toContain('CANARY');
    },
  );

  test('an empty event decodes to no records', () => {
    expect(decodeEvent({ eventSource: 'SelfManagedKafka', records: {} })).toEqual([]);
  });

  test('fails with KafkaRecordDecodeError for malformed headers', () => {
    const event = fixture('multi-partition.json');
    event.records['orders-0'][0].headers = [{ a: [1], b: [2] }];
    expect(() => decodeEvent(event)).toThrow(/orders-0@7: headers must be/);
  });
});

describe('decoded records make their Buffers on first access', () => {
  /** One self-managed record with these fields, in an event. */
  const eventOf = (fields: Record<string, unknown>): any => ({
    eventSource: 'SelfManagedKafka',
    records: {
      'orders-0': [
        { topic: 'orders', partition: 0, offset: 5, timestamp: 1700000000000, timestampType: 'CREATE_TIME', ...fields },
      ],
    },
  });

  test.each([
    ['a foreign character', 'b3Jk*XItMQ=='],
    ['padding in the middle', 'b3=kZXItMQ=='],
    ['a missing pad character', 'b3JkZXItMQ='],
    ['a space', 'b3Jk ZXItMQ=='],
    ['only padding', '===='],
    ['trailing data after padding', 'b3JkZXItMQ=a'],
    ['a number instead of text', 42],
  ])('a key with %s fails at decode time, naming the record, though the key is never read', (_label, key) => {
    // GIVEN an event whose second record has a key that is not base64, between two good records
    const event = eventOf({ key: 'b3JkZXItMQ==', value: 'eyJhIjoxfQ==' });
    const [good] = event.records['orders-0'];
    event.records['orders-0'].push({ ...good, offset: 6, key }, { ...good, offset: 7 });
    // WHEN decoded leniently, reading nothing
    const { records, failures } = decodeEventLenient(event);
    // THEN the bad record is a failure naming topic-partition-offset, and the good ones decode
    expect(records.map((r) => r.offset)).toEqual([5, 7]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(KafkaRecordDecodeError);
    expect(failures[0]).toMatchObject({ topic: 'orders', partition: 0, offset: 6 });
    expect(failures[0].message).toMatch(/orders-0@6: key is not valid base64/);
    // AND decodeEvent throws it
    expect(() => decodeEvent(event)).toThrow(/orders-0@6: key is not valid base64/);
  });

  test.each([
    ['not an array', { a: [1] }],
    ['an entry that is not an object', ['a']],
    ['an entry with no name', [{}]],
    ['an entry with two names', [{ a: [1], b: [2] }]],
    ['bytes that are not an array', [{ a: 'xyz' }]],
  ])('headers that are %s fail at decode time, naming the record', (_label, headers) => {
    // GIVEN a record whose headers do not have the event source mapping's shape
    const event = eventOf({ value: 'eyJhIjoxfQ==', headers });
    // WHEN decoded leniently THEN it is a failure naming the record
    const { records, failures } = decodeEventLenient(event);
    expect(records).toHaveLength(0);
    expect(failures[0].message).toMatch(/orders-0@5: headers must be/);
  });

  test("readBytes gives a key's or value's bytes, null when absent; a read within a read gets bytes of its own", () => {
    // GIVEN two records, one without a key
    const event = eventOf({ key: 'b3JkZXItMQ==', value: 'eyJhIjoxfQ==' });
    event.records['orders-0'].push({
      ...event.records['orders-0'][0],
      offset: 6,
      key: null,
      value: Buffer.from('second').toString('base64'),
    });
    const [first, second] = decodeEvent(event);
    // WHEN their bytes are read, the second's while the first's are being read
    const read = first.readBytes('value', (outer) => [
      outer!.toString(),
      second.readBytes('value', (inner) => inner!.toString()),
      outer!.toString(),
    ]);
    // THEN each read sees its own record's bytes, and the Buffers made later are the same bytes
    expect(read).toEqual(['{"a":1}', 'second', '{"a":1}']);
    expect(first.readBytes('key', (b) => b!.toString())).toBe('order-1');
    expect(second.readBytes('key', (b) => b)).toBeNull();
    expect(first.value!.toString()).toBe('{"a":1}');
    expect(first.readBytes('value', (b) => b)).toBe(first.value);
  });

  test('header values are the bytes of the event, names and order kept', () => {
    // GIVEN headers with every byte boundary and a repeated name
    const event = eventOf({
      value: 'eyJhIjoxfQ==',
      headers: [{ bin: [0, 1, 127, 128, 254, 255] }, { text: [...Buffer.from('grüße')] }, { bin: [9] }, { empty: [] }],
    });
    // WHEN decoded and the headers read
    const [record] = decodeEvent(event);
    // THEN each header value is exactly its bytes, and header() finds the first of a name
    expect(record.headers.map((h) => h.key)).toEqual(['bin', 'text', 'bin', 'empty']);
    expect(record.headers[0].value).toEqual(Buffer.from([0, 1, 127, 128, 254, 255]));
    expect(record.headers[1].value.toString('utf8')).toBe('grüße');
    expect(record.headers[3].value).toEqual(Buffer.alloc(0));
    expect(record.header('bin')).toEqual(Buffer.from([0, 1, 127, 128, 254, 255]));
    expect(record.header('missing')).toBeUndefined();
  });

  test('repeated access returns the same Buffers and the same headers array', () => {
    // GIVEN a decoded record with a key, a value and a header
    const [record] = decodeEvent(eventOf({ key: 'b3JkZXItMQ==', value: 'eyJhIjoxfQ==', headers: [{ h: [1, 2] }] }));
    // WHEN each field is read twice
    // THEN the second read returns the very object of the first
    expect(record.key).toBe(record.key);
    expect(record.value).toBe(record.value);
    expect(record.headers).toBe(record.headers);
    expect(record.header('h')).toBe(record.headers[0].value);
    expect(record.key).toEqual(Buffer.from('order-1'));
    expect(record.value).toEqual(Buffer.from('{"a":1}'));
  });

  test('records without headers share one empty, frozen array; absent key and tombstone are null', () => {
    const [a] = decodeEvent(eventOf({ value: null }));
    const [b] = decodeEvent(eventOf({ value: null, headers: [] }));
    expect(a.headers).toEqual([]);
    expect(a.headers).toBe(b.headers);
    expect(Object.isFrozen(a.headers)).toBe(true);
    expect(a.key).toBeNull();
    expect(a.value).toBeNull();
    expect(a.valueAsJson()).toBeNull();
    expect(a.valueAsText()).toBeNull();
    expect(a.keyAsJson()).toBeNull();
  });

  test.each([
    ['a small value', 1],
    ['a value larger than the scratch space used for decoding text', 5000],
  ])('multi-byte UTF-8 round trips through valueAsJson, valueAsText and value: %s', (_label, repeat) => {
    // GIVEN a JSON value and a key with 2-, 3- and 4-byte UTF-8 characters
    const text = 'grüße, 日本語, 😀 '.repeat(repeat);
    const json = JSON.stringify({ text });
    const event = eventOf({ key: Buffer.from('ключ').toString('base64'), value: Buffer.from(json).toString('base64') });
    // WHEN decoded, read as JSON and text before the value's Buffer exists, then after
    const [record] = decodeEvent(event);
    const before = record.valueAsJson<{ text: string }>();
    const asText = record.valueAsText();
    const bytes = record.value;
    // THEN every form is the original
    expect(before).toEqual({ text });
    expect(asText).toBe(json);
    expect(bytes).toEqual(Buffer.from(json));
    expect(record.valueAsJson()).toEqual({ text });
    expect(record.keyAsText()).toBe('ключ');
    expect(record.key).toEqual(Buffer.from('ключ'));
  });

  test('valueAsJson names the record when the value is not JSON, before and after the value is read', () => {
    const [record] = decodeEvent(eventOf({ value: Buffer.from('not json').toString('base64') }));
    expect(() => record.valueAsJson()).toThrow(/orders-0@5: value is not JSON/);
    expect(record.value!.toString()).toBe('not json');
    expect(() => record.valueAsJson()).toThrow(/orders-0@5: value is not JSON/);
  });

  test("the raw record stays the event's, and JSON.stringify writes the decoded fields", () => {
    // GIVEN a decoded record
    const event = eventOf({ key: 'b3JkZXItMQ==', value: 'eyJhIjoxfQ==', headers: [{ h: [1, 2] }] });
    const [record] = decodeEvent(event);
    // THEN raw is the event's object and the JSON form has the fields as before they were made lazy
    expect(record.raw).toBe(event.records['orders-0'][0]);
    expect(JSON.parse(JSON.stringify(record))).toEqual({
      topic: 'orders',
      partition: 0,
      offset: 5,
      timestamp: 1700000000000,
      timestampType: 'CREATE_TIME',
      key: { type: 'Buffer', data: [...Buffer.from('order-1')] },
      value: { type: 'Buffer', data: [...Buffer.from('{"a":1}')] },
      headers: [{ key: 'h', value: { type: 'Buffer', data: [1, 2] } }],
      raw: event.records['orders-0'][0],
    });
  });

  test('a record built with its constructor from Buffers behaves as before', () => {
    // GIVEN a record constructed directly
    const key = Buffer.from('k');
    const value = Buffer.from('{"n":1}');
    const headers = [{ key: 'h', value: Buffer.from([7]) }];
    const raw = { topic: 't', partition: 2, offset: 9, timestamp: 1, timestampType: 'CREATE_TIME' };
    const record = new KafkaRecord('t', 2, 9, 1, 'CREATE_TIME', key, value, headers, raw);
    // THEN its fields are the objects given, and the helpers read them
    expect(record.key).toBe(key);
    expect(record.value).toBe(value);
    expect(record.headers).toBe(headers);
    expect(record.keyAsText()).toBe('k');
    expect(record.valueAsJson()).toEqual({ n: 1 });
    expect(record.header('h')).toBe(headers[0].value);
    expect(record.topicPartition).toBe('t-2');
  });
});
