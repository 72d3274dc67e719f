/** The fault ledger's accounting on doctored observations: it must count what is missing as lost. */
import { account, Observed, overlappingRuns } from '../../e2e/accounting';

const b64 = (n: number) => Buffer.from(JSON.stringify({ n })).toString('base64');
const key = (n: number) => Buffer.from(`k${n}`).toString('base64');
const source = Array.from({ length: 4 }, (_, n) => ({
  partition: n % 2,
  offset: Math.floor(n / 2),
  n,
  key: key(n),
  value: b64(n),
}));
const coordinates = source.map(({ partition, offset }) => ({ partition, offset }));
const answered = (cs: { partition: number; offset: number }[]) => cs.map((c) => ({ ...c, hasResult: true }));
const complete: Observed = { source, responses: answered(coordinates), errors: [], failedRanges: [], invocations: [coordinates] };

describe('ledger accounting', () => {
  test('every record responded once: nothing lost, no extra invocation', () => {
    expect(account(complete)).toEqual({ produced: 4, responded: 4, errored: 0, failedDest: 0, lost: 0, extraInvocations: 0 });
  });

  test('a missing response is a lost record', () => {
    expect(account({ ...complete, responses: answered(coordinates.slice(1)) }).lost).toBe(1);
  });

  test('a response without a result accounts for nothing', () => {
    expect(
      account({ ...complete, responses: [{ ...coordinates[0], hasResult: false }, ...answered(coordinates.slice(1))] }).lost,
    ).toBe(1);
  });

  test("an error range that keeps its records' bytes accounts for them", () => {
    // GIVEN partition 0's two records on the error topic with their values
    const errors = [
      {
        partition: 0,
        startOffset: 0,
        endOffset: 2,
        records: [
          { offset: 0, key: key(0), value: b64(0) },
          { offset: 1, key: key(2), value: b64(2) },
        ],
      },
    ];
    const l = account({ ...complete, responses: answered(coordinates.filter((c) => c.partition === 1)), errors });
    expect(l).toMatchObject({ errored: 2, lost: 0 });
  });

  test.each([
    ['without records', { partition: 0, startOffset: 0, endOffset: 2 }],
    [
      'with other bytes',
      {
        partition: 0,
        startOffset: 0,
        endOffset: 2,
        records: [
          { offset: 0, key: key(0), value: b64(9) },
          { offset: 1, key: key(2), value: 'AAAA' },
        ],
      },
    ],
    [
      'without their keys',
      {
        partition: 0,
        startOffset: 0,
        endOffset: 2,
        records: [
          { offset: 0, value: b64(0) },
          { offset: 1, value: b64(2) },
        ],
      },
    ],
    [
      'with records outside its range',
      {
        partition: 0,
        startOffset: 5,
        endOffset: 7,
        records: [
          { offset: 0, key: key(0), value: b64(0) },
          { offset: 1, key: key(2), value: b64(2) },
        ],
      },
    ],
  ])('an error range %s counts its records as lost, not accounted', (_label, error) => {
    const l = account({ ...complete, responses: answered(coordinates.filter((c) => c.partition === 1)), errors: [error] });
    expect(l).toMatchObject({ errored: 0, lost: 2 });
  });

  test('on-failure ranges (last inclusive) account for their records', () => {
    const l = account({
      ...complete,
      responses: [],
      failedRanges: [
        { partition: 0, first: 0, last: 1 },
        { partition: 1, first: 0, last: 0 },
      ],
    });
    expect(l).toMatchObject({ failedDest: 3, lost: 1 });
  });

  test('a duplicate delivery to the target is an extra invocation; a response for coordinates not produced accounts for nothing', () => {
    const l = account({
      ...complete,
      invocations: [coordinates, [coordinates[0]]],
      responses: answered([...coordinates.slice(1), { partition: 7, offset: 0 }]),
    });
    expect(l).toMatchObject({ extraInvocations: 1, lost: 1 });
  });

  test('overlappingRuns finds two runs of one record at once, not runs one after the other', () => {
    expect(
      overlappingRuns([
        { at: 0, doneAt: 10, records: ['0@1'] },
        { at: 10, doneAt: 20, records: ['0@1'] },
      ]),
    ).toBe(0);
    expect(
      overlappingRuns([
        { at: 0, doneAt: 10, records: ['0@1', '0@2'] },
        { at: 5, doneAt: 20, records: ['0@2'] },
      ]),
    ).toBe(1);
    expect(
      overlappingRuns([
        { at: 0, records: ['0@1'] },
        { at: 50, doneAt: 60, records: ['0@1'] },
      ]),
    ).toBe(1);
  });
});
