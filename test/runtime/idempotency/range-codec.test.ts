/**
 * The ranges' codec: items DynamoDbRangeStore wrote before the readable Range type (one letter a field, Kinesis
 * sequence numbers shortened after the first) decode to the same ranges and encode back to the same bytes.
 */
import { decodeRanges, encodeRanges, fromStoredRange, Range, toStoredRange } from '../../../runtime/idempotency/range-codec';

/** A Kinesis sequence number of the shard below: 56 digits, only the last ones differ. */
const seq = (n: number) => `4962737658497261894766592082713${String(n).padStart(25, '0')}`;

describe('the stored form of the ranges', () => {
  test.each([
    [
      'Kafka offsets: a plain range, a responded one with results, unstored and unrelayed records, a merged one without outcome',
      '[{"f":0,"l":20,"o":"invoked","t":1765000000},{"f":21,"l":40,"o":"responded","t":1765000100,"k":"a1b2c3d4","r":2,"x":[25,30],"p":[30]},{"f":41,"l":50,"t":1765000200}]',
      [
        { first: 0, last: 20, outcome: 'invoked', doneAtSeconds: 1765000000 },
        {
          first: 21,
          last: 40,
          outcome: 'responded',
          doneAtSeconds: 1765000100,
          resultsId: 'a1b2c3d4',
          resultItems: 2,
          unstored: [25, 30],
          relayPending: [30],
        },
        { first: 41, last: 50, doneAtSeconds: 1765000200 },
      ],
    ],
    [
      'Kinesis sequence numbers, each written as "~" and the digits that differ from the one before',
      '[{"f":"49627376584972618947665920827130000000000000000000001000","l":"~990","o":"logged","t":1765000000},' +
        '{"f":"~2000","l":"~990","o":"responded","t":1765000050,"k":"0f1e2d3c","r":1,"x":["~500"],"p":["~"]},{"f":"~3000","l":"5","t":1765000100}]',
      [
        { first: seq(1000), last: seq(1990), outcome: 'logged', doneAtSeconds: 1765000000 },
        {
          first: seq(2000),
          last: seq(2990),
          outcome: 'responded',
          doneAtSeconds: 1765000050,
          resultsId: '0f1e2d3c',
          resultItems: 1,
          unstored: [seq(2500)],
          relayPending: [seq(2500)],
        },
        { first: seq(3000), last: '5', doneAtSeconds: 1765000100 },
      ],
    ],
  ])(
    'GIVEN a stored item (%s) WHEN it is decoded and encoded again THEN it reads as the ranges it holds, byte for byte the same',
    (_, stored, ranges) => {
      const decoded = decodeRanges(stored);
      expect(decoded).toEqual(ranges);
      expect(encodeRanges(decoded)).toBe(stored);
      expect(Buffer.from(encodeRanges(ranges as Range[]))).toEqual(Buffer.from(stored));
    },
  );

  test('each field of Range is stored under its letter, absent fields not at all', () => {
    const range: Range = {
      first: 3,
      last: 9,
      outcome: 'dropped',
      doneAtSeconds: 1,
      resultsId: 'k',
      resultItems: 1,
      unstored: [4],
      relayPending: [4],
    };
    expect(toStoredRange(range)).toEqual({ f: 3, l: 9, o: 'dropped', t: 1, k: 'k', r: 1, x: [4], p: [4] });
    expect(fromStoredRange(toStoredRange(range))).toEqual(range);
    expect(encodeRanges([{ first: 3, last: 9, doneAtSeconds: 1 }])).toBe('[{"f":3,"l":9,"t":1}]');
  });
});
