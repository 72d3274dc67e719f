import { decodeEvent, formatRecord, InvocationBatch, jsonOrText, PayloadTooLargeError, planBatches } from '../../runtime';
import { kafkaEvent, partitionSpecs } from './support';

const envelope = { eventSource: 'aws:kafka', eventSourceArn: 'arn:aws:kafka:us-east-1:1:cluster/c/u' };

describe('payload formats', () => {
  test.each([
    ['a JSON object', Buffer.from('{"a":1}'), { a: 1 }],
    ['a JSON number', Buffer.from('42'), 42],
    ['a JSON string', Buffer.from('"x"'), 'x'],
    ['JSON true', Buffer.from('true'), true],
    ['plain text', Buffer.from('hello world'), 'hello world'],
    ['text that starts like JSON', Buffer.from('{not json'), '{not json'],
    ['bytes that are not UTF-8 (kept as base64)', Buffer.from([0xff, 0xfe, 0x00]), '//4A'],
    ['an absent value', null, null],
  ])('Confluent key/value from %s', (_label, buf, expected) => {
    expect(jsonOrText(buf)).toEqual(expected);
  });

  test("Confluent entry has exactly the Confluent connector's fields", () => {
    const [r] = decodeEvent(kafkaEvent([{ topic: 't', partition: 1, offset: 5, key: 'k', value: { v: 1 } }]));
    expect(JSON.parse(formatRecord(r, 'confluent'))).toEqual({
      payload: { timestamp: 1_700_000_000_005, topic: 't', partition: 1, offset: 5, key: 'k', value: { v: 1 } },
    });
  });

  test('Nordstrom plain entry: key and value as text, timestampTypeName, headers', () => {
    const [r] = decodeEvent(
      kafkaEvent([{ topic: 't', partition: 1, offset: 5, key: 'k', value: { v: 1 }, headers: { h: 'x' } }]),
    );
    expect(JSON.parse(formatRecord(r, 'nordstrom-plain'))).toEqual({
      key: 'k',
      keySchemaName: null,
      value: '{"v":1}',
      valueSchemaName: null,
      topic: 't',
      partition: 1,
      offset: 5,
      timestamp: 1_700_000_000_005,
      timestampTypeName: 'CreateTime',
      headers: [{ key: 'h', value: 'x' }],
    });
  });
});

describe('planBatches', () => {
  const records = decodeEvent(kafkaEvent(partitionSpecs('p', 0, 0, 7)));

  test('splits by count, keeping offsets increasing', () => {
    const plan = planBatches(records, 'confluent', 3, 6 * 1024 * 1024, envelope) as InvocationBatch[];
    expect(plan.map((b) => b.records.map((r) => r.offset))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(JSON.parse(plan[0].payload)).toHaveLength(3);
  });

  test('splits by payload size: every payload fits the limit', () => {
    const entry = Buffer.byteLength(formatRecord(records[0], 'confluent'));
    const limit = entry * 2 + 3; // two entries, a comma and the brackets
    const plan = planBatches(records, 'confluent', 100, limit, envelope) as InvocationBatch[];
    expect(plan.map((b) => b.records.length)).toEqual([2, 2, 2, 1]);
    for (const b of plan) expect(Buffer.byteLength(b.payload)).toBeLessThanOrEqual(limit);
  });

  test('fails a single record over the limit with PayloadTooLargeError in its place', () => {
    const big = decodeEvent(
      kafkaEvent([
        { topic: 'p', partition: 0, offset: 1, value: 'small' },
        { topic: 'p', partition: 0, offset: 2, value: 'x'.repeat(5000) },
        { topic: 'p', partition: 0, offset: 3, value: 'small' },
      ]),
    );
    const plan = planBatches(big, 'confluent', 100, 1000, envelope);
    expect(
      plan.map((s) => (s instanceof PayloadTooLargeError ? `too large @${s.offset}` : s.records.map((r) => r.offset).join(','))),
    ).toEqual(['1', 'too large @2', '3']);
    expect((plan[1] as PayloadTooLargeError).message).toMatch(
      /p-0@2: invocation payload of \d+ bytes exceeds the limit of 1000 bytes/,
    );
  });

  test('raw format: the ESM event envelope around the batch records, valid JSON, within the limit', () => {
    const plan = planBatches(records, 'raw', 4, 6 * 1024 * 1024, envelope) as InvocationBatch[];
    const first = JSON.parse(plan[0].payload);
    expect(first).toEqual({ ...envelope, records: { 'p-0': records.slice(0, 4).map((r) => r.raw) } });
    expect(decodeEvent(first).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
  });
});
