import * as fs from 'fs';
import * as path from 'path';
import {
  decodeEvent,
  decodeEventLenient,
  decodeKinesisEvent,
  decodeKinesisEventLenient,
  KafkaEvent,
  KafkaRecord,
  KinesisEvent,
  KinesisEventDecodeError,
  KinesisRecord,
  KinesisRecordDecodeError,
} from '../../../runtime';

const fixture = (name: string): any =>
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'events', name), 'utf8'));

describe('decodeKinesisEvent', () => {
  test("decodes the Kinesis example event of Lambda's guide into the record shape", () => {
    // GIVEN the guide's example event
    const event = fixture('kinesis-guide-example.json');
    // WHEN decoded
    const [first, second, ...rest] = decodeKinesisEvent(event);
    // THEN stream name, shard id, the full sequence number, arrival time in ms, partition key and data
    expect(rest).toHaveLength(0);
    expect(first).toMatchObject({
      topic: 'lambda-stream',
      partition: 'shardId-000000000006',
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      timestamp: 1545084650987,
      partitionKey: '1',
    });
    expect(first.topicPartition).toBe('lambda-stream-shardId-000000000006');
    expect(first.coordinates).toBe('lambda-stream-shardId-000000000006-49590338271490256608559692538361571095921575989136588898');
    expect(first.key).toEqual(Buffer.from('1'));
    expect(first.valueAsText()).toBe('Hello, this is a test.');
    expect(second.valueAsText()).toBe('This is only a test.');
    expect(second.timestamp).toBe(1545084711166);
  });

  test('keeps sequence numbers beyond double precision exactly', () => {
    // GIVEN sequence numbers that differ only in the last digits
    const event = fixture('kinesis-guide-example.json');
    event.Records[1].kinesis.sequenceNumber = '49590338271490256608559692538361571095921575989136588899';
    event.Records[1].eventID = 'shardId-000000000006:49590338271490256608559692538361571095921575989136588899';
    // WHEN decoded THEN both are distinct, exact and in order
    const records = decodeKinesisEvent(event);
    expect(records.map((r) => r.sequenceNumber.slice(-3))).toEqual(['898', '899']);
  });

  test('an EFO consumer ARN still gives the stream name', () => {
    // GIVEN an event source ARN of an enhanced fan-out consumer
    const event = fixture('kinesis-guide-example.json');
    for (const r of event.Records)
      r.eventSourceARN = 'arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream/consumer/con1:1540591608';
    // THEN the stream name is the topic
    expect(decodeKinesisEvent(event)[0].topic).toBe('lambda-stream');
  });

  test('valueAsJson parses data, and fails naming stream, shard and sequence when it is not JSON', () => {
    // GIVEN records with JSON and text data
    const [good] = decodeKinesisEvent({ Records: [fixture('kinesis-invalid-data.json').Records[0]] });
    const [text] = decodeKinesisEvent(fixture('kinesis-guide-example.json'));
    // THEN JSON parses and text throws a typed error
    expect(good.valueAsJson()).toEqual({ n: 1 });
    expect(() => text.valueAsJson()).toThrow(KinesisRecordDecodeError);
    expect(() => text.valueAsJson()).toThrow(
      /^Kinesis record lambda-stream\/shardId-000000000006@49590338271490256608559692538361571095921575989136588898: data is not JSON/,
    );
  });

  test('fails on data that is not base64, naming the record; lenient decoding keeps the others', () => {
    // GIVEN three records, the second with data that is not base64
    const event = fixture('kinesis-invalid-data.json');
    // WHEN decoded strictly THEN the typed error names stream, shard and sequence
    expect(() => decodeKinesisEvent(event)).toThrow(
      expect.objectContaining({
        name: 'KinesisRecordDecodeError',
        stream: 'lambda-stream',
        shardId: 'shardId-000000000001',
        sequenceNumber: '49590338271490256608559692538361571095921575989136588802',
      }),
    );
    // AND leniently the other two records come back in order, with one failure
    const { records, failures } = decodeKinesisEventLenient(event);
    expect(records.map((r) => r.valueAsJson())).toEqual([{ n: 1 }, { n: 3 }]);
    expect(failures).toHaveLength(1);
    expect(failures[0].message).toMatch(
      /shardId-000000000001@49590338271490256608559692538361571095921575989136588802: data is not valid base64/,
    );
  });

  test.each<[string, (e: any) => unknown, RegExp]>([
    ['fails on a Kafka event', () => ({ eventSource: 'aws:kafka', records: {} }), /not a Kinesis event/],
    [
      'fails on a record of another source',
      (e) => {
        e.Records[0].eventSource = 'aws:sqs';
        return e;
      },
      /Records\[0\] is not a Kinesis record: eventSource is "aws:sqs"/,
    ],
    [
      'fails on an eventID without a shard',
      (e) => {
        e.Records[0].eventID = 'x';
        return e;
      },
      /expected arn:…:stream\/<name> and "<shardId>:<sequenceNumber>"/,
    ],
    [
      'fails on an eventID whose sequence differs',
      (e) => {
        e.Records[0].eventID = 'shardId-000000000006:1';
        return e;
      },
      /a sequence number is decimal digits and ends the eventID/,
    ],
    [
      'fails on a non-decimal sequence number',
      (e) => {
        e.Records[0].kinesis.sequenceNumber = '12a';
        e.Records[0].eventID = 'shardId-000000000006:12a';
        return e;
      },
      /has sequence number "12a"/,
    ],
    [
      'fails on sequence numbers out of order in a shard',
      (e) => {
        e.Records.reverse();
        return e;
      },
      /sequence numbers must increase within a shard/,
    ],
  ])('%s', (_name, mutate, message) => {
    // GIVEN a malformed event THEN decoding throws KinesisEventDecodeError with the reason
    const event = mutate(fixture('kinesis-guide-example.json'));
    expect(() => decodeKinesisEvent(event)).toThrow(KinesisEventDecodeError);
    expect(() => decodeKinesisEvent(event)).toThrow(message);
  });
});

describe('decodeEvent and decodeEventLenient on a Kinesis event', () => {
  test("decode aws:kinesis records into KinesisRecords, typed by the event's type", () => {
    // GIVEN the guide's Kinesis event, typed as a KinesisEvent
    const event: KinesisEvent = fixture('kinesis-guide-example.json');
    // WHEN decoded by the Kafka entry points
    const records: KinesisRecord[] = decodeEvent(event);
    const lenient = decodeEventLenient(event);
    // THEN they are the Kinesis records decodeKinesisEvent gives, with Kafka's field names
    expect(records).toEqual(decodeKinesisEvent(event));
    expect(lenient.records).toEqual(records);
    expect(lenient.failures).toEqual([]);
    expect(records.map((r) => [r.topic, r.partition, r.offset, r.keyAsText(), r.valueAsText()])).toEqual([
      [
        'lambda-stream',
        'shardId-000000000006',
        '49590338271490256608559692538361571095921575989136588898',
        '1',
        'Hello, this is a test.',
      ],
      [
        'lambda-stream',
        'shardId-000000000006',
        '49590338271490256608559692540925702759324208523137515618',
        '1',
        'This is only a test.',
      ],
    ]);
    expect(records[0].header('any')).toBeUndefined();
    expect(records[0].keyAsJson()).toBe(1);
  });

  test('a Kafka event still gives KafkaRecords; an event of unknown type gives either, sharing the record shape', () => {
    // GIVEN a Kafka event typed as such, and the Kinesis event as unknown
    const kafka: KafkaEvent = {
      eventSource: 'SelfManagedKafka',
      records: {
        't-0': [
          {
            topic: 't',
            partition: 0,
            offset: 5,
            timestamp: 1,
            timestampType: 'CREATE_TIME',
            key: 'aw==',
            value: 'eyJhIjoxfQ==',
            headers: [],
          },
        ],
      },
    };
    const unknown: unknown = fixture('kinesis-guide-example.json');
    // WHEN decoded
    const [kafkaRecord]: KafkaRecord[] = decodeEvent(kafka);
    const shared = decodeEvent(unknown);
    // THEN each gets its own record class, and code written for either runs on both
    expect(kafkaRecord).toBeInstanceOf(KafkaRecord);
    expect(kafkaRecord.valueAsJson()).toEqual({ a: 1 });
    expect(shared.every((r) => r instanceof KinesisRecord)).toBe(true);
    expect(shared.map((r) => `${r.topic}/${r.partition}@${r.offset}: ${r.valueAsText()}`)[0]).toBe(
      'lambda-stream/shardId-000000000006@49590338271490256608559692538361571095921575989136588898: Hello, this is a test.',
    );
  });

  test('fails with KinesisRecordDecodeError naming stream, shard and sequence number for a partition key that is not JSON', () => {
    const [record] = decodeEvent(fixture('kinesis-guide-example.json') as KinesisEvent);
    const bad = new KinesisRecord(
      record.topic,
      record.partition,
      record.sequenceNumber,
      record.timestamp,
      'not json',
      record.value,
      record.raw,
    );
    expect(() => bad.keyAsJson()).toThrow(KinesisRecordDecodeError);
    expect(() => bad.keyAsJson()).toThrow(
      /lambda-stream.*shardId-000000000006.*49590338271490256608559692538361571095921575989136588898.*partition key is not JSON/,
    );
  });
});
