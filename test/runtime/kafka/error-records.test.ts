/**
 * Error records sized in bytes (issue 28, defect 4): errorItems and fitErrorItem split a failure at byte boundaries
 * (multi-byte UTF-8 counted as bytes, never cut inside a character), leave out the input payload that does not fit,
 * and give a record too big for any error record by its coordinates, sizes and digests. KafkaRelay learns the error
 * topic's limit (DescribeConfigs, or the option, or Kafka's default) and answers a broker's too-large refusal. The same
 * against the real broker: test/runtime/kafka/error-records.integ.test.ts.
 */
import { createHash } from 'node:crypto';
import {
  cutToJsonBytes,
  decodeSourceEvent,
  DispatcherConfigError,
  dispatcherFromConfig,
  JsonLogger,
  ErrorItem,
  errorRecordBudget,
  errorRecordBytes,
  errorRecordMessage,
  fitErrorItem,
  KafkaRelay,
  KafkaProducerPort,
  messageBytes,
  minimalErrorItems,
  OutgoingMessage,
  parseDispatcherConfig,
  SourceRecord,
  TruncatedRecord,
} from '../../../runtime';
import { errorItems, PartitionRun } from '../../../runtime/dispatcher/partition-run';
import { bigSequence, kafkaEvent, kinesisEvent, RecordSpec } from '../support';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const SMALL = 64 * 1024;
const run = (topic = 'orders', partition: number | string = 3) =>
  new PartitionRun(`${topic}-${partition}`, topic, partition, new Map());
const kafkaRecords = (specs: RecordSpec[]): SourceRecord[] => decodeSourceEvent(kafkaEvent(specs)).records;
const specs = (n: number, value: (i: number) => unknown, from = 100): RecordSpec[] =>
  Array.from({ length: n }, (_, i) => ({ topic: 'orders', partition: 3, offset: from + i, key: `k${i}`, value: value(i) }));
const failed = (records: SourceRecord[], inputPayload?: string) => ({
  error: new Error('target failed'),
  records,
  start: records[0].offset,
  end: Number(records[records.length - 1].offset) + 1,
  inputPayload,
  details: { statusCode: 200, functionError: 'Unhandled', payload: '{"errorMessage":"x"}', executedVersion: '$LATEST' },
});
const valueOf = (item: ErrorItem) => JSON.parse(errorRecordMessage(item).value);
/** The offsets an error record names by its records: each the event's record or its TruncatedRecord. */
const offsetsIn = (item: ErrorItem) => item.records.map((r) => Number((r as { offset: number }).offset));

/** Items in order, contiguous, each within the budget, together the failure's records. */
function expectSplit(items: ErrorItem[], records: readonly SourceRecord[], maxMessageBytes: number): void {
  for (const item of items) {
    expect(errorRecordBytes(item)).toBeLessThanOrEqual(errorRecordBudget(maxMessageBytes));
    const own = offsetsIn(item);
    expect([item.startOffset, item.endOffset]).toEqual([own[0], own[own.length - 1] + 1]);
  }
  expect(items.flatMap(offsetsIn)).toEqual(records.map((r) => Number(r.offset)));
}

describe('errorItems and fitErrorItem: sized in bytes', () => {
  test('without a limit: one item with every record and its offset (the relay fits it to the topic when sending)', () => {
    const records = kafkaRecords(specs(300, (i) => 'é'.repeat(4000 + i)));
    const [item, ...more] = errorItems(run(), failed(records, 'payload'), 'target');
    expect(more).toEqual([]);
    expect(item).toMatchObject({
      topic: 'orders',
      partition: 3,
      startOffset: 100,
      endOffset: 400,
      inputPayload: 'payload',
      functionName: 'target',
    });
    expect(item.offsets).toEqual(records.map((r) => r.offset));
    expect(item.records).toEqual(records.map((r) => r.raw));
  });

  test("an item that fits is unchanged, and its error record has the connector's fields and no new ones", () => {
    const records = kafkaRecords(specs(2, (i) => ({ n: i })));
    const [item] = errorItems(run(), failed(records, '[1,2]'), 'target', SMALL);
    expect(fitErrorItem(item, SMALL)).toEqual([item]);
    expect(Object.keys(valueOf(item))).toEqual([
      'functionName',
      'inputPayload',
      'statusCode',
      'functionError',
      'logResult',
      'payload',
      'executedVersion',
      'outcome',
      'records',
    ]);
  });

  test('an input payload of multi-byte text under the limit in characters but over it in bytes is left out, and says so', () => {
    // GIVEN 30,000 three-byte characters: 30 K characters (under 64 KiB), 90 KB of UTF-8 (over it)
    const input = '€'.repeat(30_000);
    const records = kafkaRecords(specs(3, (i) => ({ n: i })));
    // WHEN fitted to 64 KiB
    const items = errorItems(run(), failed(records, input), 'target', SMALL);
    // THEN one error record with the records, the input payload left out with its size in bytes
    expectSplit(items, records, SMALL);
    expect(items).toHaveLength(1);
    expect(valueOf(items[0])).toMatchObject({ inputPayload: null, inputPayloadOmitted: true, inputPayloadBytes: 90_000 });
  });

  test('the input payload goes on the first error record when it fits there with its first record', () => {
    const input = 'ж'.repeat(10_000); // 20 KB
    const records = kafkaRecords(specs(40, (i) => 'ж'.repeat(2_000 + i))); // ~5.4 KB each in base64
    const items = errorItems(run(), failed(records, input), 'target', SMALL);
    expectSplit(items, records, SMALL);
    expect(items[0].inputPayload).toBe(input);
    for (const item of items.slice(1)) expect(valueOf(item)).toMatchObject({ inputPayload: null });
    expect(items.some((i) => valueOf(i).inputPayloadOmitted)).toBe(false);
  });

  test.each([
    ['two-byte', 'é'],
    ['three-byte', '€'],
    ['four-byte (surrogate pairs)', '😀'],
  ])('records of %s text are split by bytes: each error record within the limit, packed close to it, in order', (_label, ch) => {
    // GIVEN 100 records of 8 KB of text in characters of this width
    const records = kafkaRecords(specs(100, (i) => `${i}:${ch.repeat(Math.floor(8192 / Buffer.byteLength(ch)))}`));
    // WHEN fitted to 64 KiB
    const items = errorItems(run(), failed(records), 'target', SMALL);
    // THEN every record is there, in order, each error record within 64 KiB
    expectSplit(items, records, SMALL);
    // AND packed: adding the next record to an error record would take it over (within the room kept for offsets)
    for (let i = 0; i + 1 < items.length; i++) {
      const next = items[i + 1].records[0];
      expect(errorRecordBytes({ ...items[i], records: [...items[i].records, next] })).toBeGreaterThan(
        errorRecordBudget(SMALL) - 200,
      );
    }
    // AND the bytes are the event's: a record's base64 value decodes to its text
    const first = items[0].records[0] as { value: string };
    expect(Buffer.from(first.value, 'base64').toString('utf8')).toBe(`0:${ch.repeat(Math.floor(8192 / Buffer.byteLength(ch)))}`);
  });

  test('a record bigger than the limit: its coordinates, sizes and SHA-256 digests with truncated: true, the others kept', () => {
    // GIVEN a small record, one of 100 KB of two-byte text, and another small one
    const big = Buffer.from('ж'.repeat(50_000));
    const records = kafkaRecords([
      { topic: 'orders', partition: 3, offset: 7, key: 'a', value: 'small' },
      { topic: 'orders', partition: 3, offset: 8, key: 'big-key', value: big, headers: { trace: 'abc' } },
      { topic: 'orders', partition: 3, offset: 9, value: null },
    ]);
    // WHEN fitted to 64 KiB
    const items = errorItems(run(), failed(records), 'target', SMALL);
    // THEN the big one stands for itself, and the error record says truncated
    expectSplit(items, records, SMALL);
    const all = items.flatMap((i) => i.records);
    expect(all[0]).toEqual(records[0].raw);
    expect(all[2]).toEqual(records[2].raw);
    expect(JSON.parse(JSON.stringify(all[1]))).toEqual({
      truncated: true,
      topic: 'orders',
      partition: 3,
      offset: 8,
      timestamp: 1_700_000_000_008,
      timestampType: 'CREATE_TIME',
      keyBytes: 7,
      keySha256: sha256('big-key'),
      valueBytes: 100_000,
      valueSha256: sha256(big),
      headersBytes: 8,
    });
    const holding = items.find((i) => i.records.includes(all[1]))!;
    expect(valueOf(holding).truncated).toBe(true);
    expect(items.filter((i) => i !== holding).every((i) => valueOf(i).truncated === undefined)).toBe(true);
  });

  test('a tombstone without a key and a Kinesis record bigger than the limit: sizes and digests of what they have', () => {
    const tombstone = new TruncatedRecord('orders', 3, 5, {
      offset: 5,
      timestamp: 1,
      timestampType: 'CREATE_TIME',
      value: null,
      headers: [],
    });
    expect(JSON.parse(JSON.stringify(tombstone))).toEqual({
      truncated: true,
      topic: 'orders',
      partition: 3,
      offset: 5,
      timestamp: 1,
      timestampType: 'CREATE_TIME',
      keyBytes: null,
      keySha256: null,
      valueBytes: null,
      valueSha256: null,
      headersBytes: 0,
    });
    // GIVEN a Kinesis record of 100 KB whose sequence number has 56 digits
    const data = 'ü'.repeat(50_000);
    const [record] = decodeSourceEvent(
      kinesisEvent([
        { stream: 's', shardId: 'shardId-000000000001', sequenceNumber: bigSequence(1), partitionKey: 'pk-ü', value: data },
      ]),
    ).records;
    const items = errorItems(run('s', 'shardId-000000000001'), failed([record]), 'target', SMALL);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ startOffset: bigSequence(1), endOffset: bigSequence(2) });
    expect(JSON.parse(JSON.stringify(items[0].records[0]))).toEqual({
      truncated: true,
      topic: 's',
      partition: 'shardId-000000000001',
      offset: bigSequence(1),
      keyBytes: Buffer.byteLength('pk-ü'),
      keySha256: sha256('pk-ü'),
      valueBytes: 100_000,
      valueSha256: sha256(data),
    });
  });

  test('an entry that could not be decoded and is bigger than the limit: the digest of its JSON', () => {
    const raw = { topic: 'orders', partition: 3, offset: 4, timestamp: 1, value: '%%not base64%%'.repeat(10_000) };
    const items = errorItems(run(), { error: new Error('bad'), records: [], raw, start: 4, end: 5 }, 'target', SMALL);
    expect(items).toHaveLength(1);
    const entry = Buffer.from(JSON.stringify(raw));
    expect(JSON.parse(JSON.stringify(items[0].records[0]))).toEqual({
      truncated: true,
      topic: 'orders',
      partition: 3,
      offset: 4,
      entryBytes: entry.length,
      entrySha256: sha256(entry),
    });
  });

  test('a failure payload of megabytes is cut at a character boundary to a quarter of the limit, and says how big it was', () => {
    // GIVEN a target's error payload of 2 MB of three- and four-byte characters
    const payload = JSON.stringify({ errorMessage: '€😀'.repeat(300_000) });
    const records = kafkaRecords(specs(2, (i) => ({ n: i })));
    const item: ErrorItem = {
      ...errorItems(run(), failed(records), 'target')[0],
      details: { statusCode: 200, functionError: 'Unhandled', payload },
    };
    // WHEN fitted to 64 KiB
    const [fitted, ...more] = fitErrorItem(item, SMALL);
    // THEN its payload is a prefix within a quarter of the budget, valid UTF-8, and the record says it was cut
    expect(more).toEqual([]);
    const v = valueOf(fitted);
    expect(v).toMatchObject({ payloadTruncated: true, payloadBytes: Buffer.byteLength(payload) });
    expect(payload.startsWith(v.payload)).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(v.payload))).toBeLessThanOrEqual(errorRecordBudget(SMALL) / 4);
    expect(Buffer.from(v.payload).toString('utf8')).toBe(v.payload);
    expect(fitted.records).toEqual(records.map((r) => r.raw));
  });

  test('fitting again to a smaller limit keeps what the first fitting said was left out', () => {
    const input = '€'.repeat(400_000); // 1.2 MB: left out at 1 MiB already
    const payload = 'x'.repeat(600_000);
    const records = kafkaRecords(specs(100, (i) => 'é'.repeat(4_000 + i)));
    const item: ErrorItem = {
      ...errorItems(run(), failed(records, input), 'target')[0],
      details: { statusCode: 200, functionError: 'Unhandled', payload },
    };
    const once = fitErrorItem(item, 1_048_576);
    const twice = once.flatMap((i) => fitErrorItem(i, SMALL));
    expectSplit(twice, records, SMALL);
    expect(valueOf(twice[0])).toMatchObject({
      inputPayloadOmitted: true,
      inputPayloadBytes: 1_200_000,
      payloadTruncated: true,
      payloadBytes: 600_000,
    });
    expect(twice.slice(1).every((i) => valueOf(i).inputPayloadOmitted === undefined)).toBe(true);
    expect(twice.flatMap((i) => fitErrorItem(i, SMALL))).toEqual(twice);
  });

  test('minimalErrorItems: one small error record per record, by its coordinates, sizes and digests', () => {
    const records = kafkaRecords(specs(3, (i) => '€'.repeat(3000 + i)));
    const items = minimalErrorItems(errorItems(run(), failed(records, 'input'), 'target')[0]);
    expect(items.map((i) => [i.startOffset, i.endOffset])).toEqual([
      [100, 101],
      [101, 102],
      [102, 103],
    ]);
    for (const item of items) {
      expect(errorRecordBytes(item)).toBeLessThan(2048);
      expect(valueOf(item)).toMatchObject({
        truncated: true,
        inputPayload: null,
        inputPayloadOmitted: true,
        inputPayloadBytes: 5,
      });
    }
  });
});

describe('cutToJsonBytes', () => {
  test.each([
    ['ASCII', 'abcdefghij'.repeat(50)],
    ['two-byte', 'éñü'.repeat(200)],
    ['three-byte', '€漢字'.repeat(200)],
    ['four-byte', '😀🎉'.repeat(200)],
    ['escapes and control characters', '"\\\n\u0001é😀'.repeat(100)],
  ])('%s: the longest prefix within the bytes, never inside a character', (_label, s) => {
    for (let max = 2; max < 300; max += 7) {
      const cut = cutToJsonBytes(s, max);
      expect(s.startsWith(cut)).toBe(true);
      expect(Buffer.byteLength(JSON.stringify(cut))).toBeLessThanOrEqual(max);
      expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut); // no lone surrogate
      const longer = s.slice(0, cut.length + (s.codePointAt(cut.length)! > 0xffff ? 2 : 1));
      expect(Buffer.byteLength(JSON.stringify(longer))).toBeGreaterThan(max);
    }
  });

  test('base64 is cut to a multiple of four characters', () => {
    const b64 = Buffer.from('log line '.repeat(100)).toString('base64');
    expect(cutToJsonBytes(b64, 103, 4).length % 4).toBe(0);
  });
});

describe('KafkaRelay sizes error records for the error topic', () => {
  /** A producer whose broker refuses a send with a batch over `topicLimit`, as kafkajs reports it. */
  function fakeProducer(o: { topicLimit: number; describe?: () => Promise<number> }) {
    const sent: OutgoingMessage[][] = [];
    const refused: number[] = [];
    let describes = 0;
    const port: KafkaProducerPort = {
      send: async (_topic, messages) => {
        const batch = messages.reduce((n, m) => n + messageBytes(m) + 70, 61);
        if (batch > o.topicLimit) {
          refused.push(batch);
          const protocol = Object.assign(
            new Error('The request included a message larger than the max message size the server will accept'),
            { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', code: 10 },
          );
          throw Object.assign(new Error(protocol.message), { name: 'KafkaJSNonRetriableError', cause: protocol });
        }
        sent.push([...messages]);
      },
      disconnect: async () => undefined,
      ...(o.describe
        ? {
            maxMessageBytes: async () => {
              describes++;
              return o.describe!();
            },
          }
        : {}),
    };
    return { port, sent, refused, describes: () => describes };
  }
  const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const logger = {
    debug: () => undefined,
    append: () => undefined,
    info: (message: string, fields?: Record<string, unknown>) => logs.push({ level: 'info', message, fields }),
    warn: (message: string, fields?: Record<string, unknown>) => logs.push({ level: 'warn', message, fields }),
    error: (message: string, fields?: Record<string, unknown>) => logs.push({ level: 'error', message, fields }),
  };
  beforeEach(() => {
    logs.length = 0;
  });
  const relay = (p: KafkaProducerPort, errorTopicMaxMessageBytes?: number) =>
    new KafkaRelay({
      bootstrapServers: ['b:9092'],
      errorTopic: 'errors',
      producerFactory: () => p,
      errorTopicMaxMessageBytes,
      logger,
    });
  const failure = (n = 100) =>
    errorItems(run(), failed(kafkaRecords(specs(n, (i) => `${i}:${'€'.repeat(2731)}`)), '€'.repeat(280_000)), 'target');
  const sentItems = (sent: OutgoingMessage[][]) => sent.flat().map((m) => JSON.parse(m.value));

  test("reads the topic's max.message.bytes once and sizes every error record and every send for it", async () => {
    const broker = fakeProducer({ topicLimit: SMALL, describe: async () => SMALL });
    const r = relay(broker.port);
    await r.sendErrors(failure());
    await r.sendErrors(failure(10));
    expect(broker.describes()).toBe(1);
    expect(broker.refused).toEqual([]);
    for (const batch of broker.sent) expect(batch.reduce((n, m) => n + messageBytes(m) + 128, 128)).toBeLessThanOrEqual(SMALL);
    expect(sentItems(broker.sent).flatMap((v) => v.records).length).toBe(110);
    expect(logs).toContainEqual({
      level: 'info',
      message: "error records are sized for the error topic's max.message.bytes",
      fields: { topic: 'errors', maxMessageBytes: SMALL },
    });
  });

  test('errorTopicMaxMessageBytes is taken as given: the topic is not described', async () => {
    const broker = fakeProducer({ topicLimit: 10_000_000, describe: async () => 10_000_000 });
    const r = relay(broker.port, 100_000);
    expect(await r.errorTopicMaxMessageBytes()).toBe(100_000);
    await r.sendErrors(failure());
    expect(broker.describes()).toBe(0);
    for (const m of broker.sent.flat()) expect(messageBytes(m)).toBeLessThanOrEqual(errorRecordBudget(100_000));
  });

  test("a describe refused (no DESCRIBE_CONFIGS) or a producer that cannot describe: Kafka's default, with a warning naming the fix", async () => {
    const refusedDescribe = fakeProducer({
      topicLimit: 1_048_588,
      describe: async () => {
        throw new Error('Topic authorization failed');
      },
    });
    const r = relay(refusedDescribe.port);
    expect(await r.errorTopicMaxMessageBytes()).toBe(1_048_576);
    expect(await r.errorTopicMaxMessageBytes()).toBe(1_048_576);
    expect(refusedDescribe.describes()).toBe(1); // not asked again at once
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({
          error: 'Topic authorization failed',
          fix: expect.stringMatching(/errorTopicMaxMessageBytes/),
        }),
      }),
    );
    expect(await relay(fakeProducer({ topicLimit: 1_048_588 }).port).errorTopicMaxMessageBytes()).toBe(1_048_576);
  });

  test('the broker refuses an error record as too large: the relay reads the limit again and sends the rest fitted to it', async () => {
    // GIVEN a topic whose limit was lowered to 64 KiB after the relay read 1 MiB
    let limit = 1_048_576;
    const broker = fakeProducer({ topicLimit: SMALL, describe: async () => limit });
    const r = relay(broker.port);
    expect(await r.errorTopicMaxMessageBytes()).toBe(1_048_576);
    limit = SMALL;
    // WHEN a failure is sent
    await r.sendErrors(failure());
    // THEN after the refusal every record arrived with its bytes, in error records within 64 KiB
    expect(broker.refused.length).toBe(1);
    const values = sentItems(broker.sent);
    expect(values.flatMap((v) => v.records).map((x: { offset: number }) => x.offset)).toEqual(
      Array.from({ length: 100 }, (_, i) => 100 + i),
    );
    expect(values.every((v) => v.truncated === undefined)).toBe(true);
    expect(await r.errorTopicMaxMessageBytes()).toBe(SMALL);
  });

  test('errorTopicMaxMessageBytes above what the topic takes: after the refusal each record goes alone by its digest', async () => {
    const broker = fakeProducer({ topicLimit: SMALL });
    await relay(broker.port, 1_048_576).sendErrors(failure(20));
    expect(broker.refused.length).toBe(1);
    const values = sentItems(broker.sent);
    expect(values).toHaveLength(20);
    expect(values.every((v) => v.truncated === true && v.records.length === 1)).toBe(true);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({ fix: "set errorTopicMaxMessageBytes to the error topic's max.message.bytes" }),
      }),
    );
  });

  test('other send failures are not taken for a size refusal', async () => {
    const port: KafkaProducerPort = {
      send: async () => {
        throw new Error('broker down');
      },
      disconnect: async () => undefined,
    };
    await expect(relay(port, SMALL).sendErrors(failure(3))).rejects.toThrow(
      /relaying 1 record\(s\) to errors failed: broker down/,
    );
  });
});

describe('config.relay.errorTopicMaxMessageBytes', () => {
  test("reaches the dispatcher's relay (dispatcherFromConfig)", async () => {
    const d = dispatcherFromConfig(
      parseDispatcherConfig(config({ errorTopicMaxMessageBytes: 65_536 })),
      {},
      new JsonLogger({ write: () => undefined }),
    );
    const relay = (d as unknown as { options: { relay: KafkaRelay } }).options.relay;
    expect(relay.errorTopic).toBe('e');
    expect(await relay.errorTopicMaxMessageBytes()).toBe(65_536);
  });

  const config = (relay: Record<string, unknown>) =>
    JSON.stringify({
      version: 2,
      onError: 'log',
      reportBatchItemFailures: true,
      timeMarginMs: 1000,
      target: {
        functionName: 'f',
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: 10,
        concurrency: 1,
        maxAttempts: 1,
        baseDelayMs: 1,
        maxDelayMs: 1,
      },
      relay: { bootstrapServers: ['b:9092'], auth: 'none', tls: false, clientId: 'c', errorTopic: 'e', ...relay },
    });

  test('is read within its bounds', () => {
    expect(parseDispatcherConfig(config({ errorTopicMaxMessageBytes: 65_536 })).relay?.errorTopicMaxMessageBytes).toBe(65_536);
    expect(parseDispatcherConfig(config({})).relay?.errorTopicMaxMessageBytes).toBeUndefined();
  });

  test.each([
    [
      { errorTopicMaxMessageBytes: 1000 },
      /config.relay.errorTopicMaxMessageBytes must be an integer in \[16384, 104857600\], got 1000/,
    ],
    [{ errorTopicMaxMessageBytes: '65536' }, /must be an integer in \[16384, 104857600\], got "65536"/],
    [
      { errorTopic: undefined, responseTopic: 'r', errorTopicMaxMessageBytes: 65_536 },
      /config.relay.errorTopicMaxMessageBytes needs config.relay.errorTopic/,
    ],
  ])('refuses %j', (relay, message) => {
    expect(() => parseDispatcherConfig(config(relay))).toThrow(DispatcherConfigError);
    expect(() => parseDispatcherConfig(config(relay))).toThrow(message);
  });
});
