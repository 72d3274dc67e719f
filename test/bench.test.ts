import * as fs from 'fs';
import * as path from 'path';
import { decodeEvent } from '../runtime/source';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { resultsProblems } = require('../bench/shape') as { resultsProblems: (r: unknown) => string[] };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { kafkaEvent, jsonOfSize } = require('../bench/common') as {
  kafkaEvent: (n: number, o?: { valueBytes?: number; partitions?: number }) => unknown;
  jsonOfSize: (i: number, bytes: number) => unknown;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { drawChart } = require('../bench/chart') as { drawChart: (json: string, png: string) => string };

const RESULTS = path.join(__dirname, '..', 'bench', 'results.json');
const committed = (): Record<string, Record<string, number>> => JSON.parse(fs.readFileSync(RESULTS, 'utf8'));

describe('bench/results.json', () => {
  test('has exactly the shape the README table reads, every number positive', () => {
    // GIVEN the committed results of the full run
    const results = committed();
    // THEN
    expect(resultsProblems(results)).toEqual([]);
    expect(Object.keys(results)).toEqual(['decode', 'idempotency', 'relay', 'coldStart']);
  });

  test('comes from a run with the record counts the README states', () => {
    const results = committed();
    expect(results.decode.records).toBe(10_000);
    expect(results.idempotency.records).toBe(1_000);
    expect(results.relay.records).toBe(100_000);
    expect(results.relay.bytes).toBe(1024);
  });

  test.each([
    ['a missing section', (r: any) => { delete r.relay; }, 'relay is missing'],
    ['an extra field', (r: any) => { r.decode.extra = 1; }, 'unexpected field decode.extra'],
    ['a zero', (r: any) => { r.coldStart.require_ms_over_node = 0; }, 'coldStart.require_ms_over_node must be a positive number, got 0'],
    ['a string', (r: any) => { r.idempotency.ours_ms = '12'; }, 'idempotency.ours_ms must be a positive number, got "12"'],
  ])('fails the shape check with %s', (_, mutate, problem) => {
    // GIVEN the committed results, changed
    const results = committed();
    mutate(results);
    // THEN the check names the problem
    expect(resultsProblems(results)).toContain(problem);
  });
});

describe('bench fixtures and chart', () => {
  test.each([100, 500, 1024])('a JSON value of %i bytes serializes to exactly that size', (bytes) => {
    expect(Buffer.byteLength(JSON.stringify(jsonOfSize(7, bytes)))).toBe(bytes);
  });

  test('the decode event is a valid SelfManagedKafka event with a key, a 500-byte value and a header per record', () => {
    const records = decodeEvent(kafkaEvent(40));
    expect(records).toHaveLength(40);
    for (const r of records) {
      expect(r.key).not.toBeNull();
      expect(r.value!.length).toBe(500);
      expect(r.headers).toHaveLength(1);
    }
  });

  test('the chart is drawn from results.json as a PNG', () => {
    const png = path.join(fs.mkdtempSync(path.join(require('os').tmpdir(), 'bench-')), 'chart.png');
    drawChart(RESULTS, png);
    const bytes = fs.readFileSync(png);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(bytes.length).toBeGreaterThan(10_000);
  });
});
