import * as fs from 'fs';
import * as path from 'path';
import { decodeEvent } from '../runtime/dispatcher/source';

const { resultsProblems, schemaGoals, costGoals, costPerEvent } = require('../bench/shape') as {
  resultsProblems: (r: unknown) => string[];
  schemaGoals: (s: any) => Record<string, Goal>;
  costGoals: (s: any) => Record<string, Goal>;
  costPerEvent: (s: any) => Record<string, Record<string, number>>;
};

const COST_WORKS = ['sleep', 'cpu', 'sleep_1s'];

const { costTable } = require('../bench/table') as { costTable: (c: any) => string };

const { decoders, eventFor } = require('../bench/schema-worker') as {
  decoders: Record<string, (format: string) => Promise<(event: unknown) => Promise<unknown[]>>>;
  eventFor: (format: string, impl: string, records: number) => any;
};

const { FRAMED_BYTES } = require('../bench/schema-fixtures') as { FRAMED_BYTES: number };

interface Goal {
  value: number;
  min?: number;
  max?: number;
  met: boolean;
}

const { kafkaEvent, jsonOfSize } = require('../bench/common') as {
  kafkaEvent: (n: number, o?: { valueBytes?: number; partitions?: number }) => unknown;
  jsonOfSize: (i: number, bytes: number) => unknown;
};

const { drawChart } = require('../bench/chart') as { drawChart: (json: string, png: string) => string };

const RESULTS = path.join(__dirname, '..', 'bench', 'results.json');
const committed = (): Record<string, Record<string, any>> => JSON.parse(fs.readFileSync(RESULTS, 'utf8'));

describe('bench/results.json', () => {
  test('has exactly the shape the README table reads, every number positive', () => {
    // GIVEN the committed results of the full run
    const results = committed();
    // THEN
    expect(resultsProblems(results)).toEqual([]);
    expect(Object.keys(results)).toEqual([
      'decode',
      'idempotency',
      'idempotencySteady',
      'relay',
      'coldStart',
      'schemas',
      'cost',
      'redrive',
    ]);
  });

  test('has the cost section with its goal judged on its numbers and dollars at its prices', () => {
    // GIVEN the committed cost section
    const { cost } = committed();
    // THEN the goal is the in-process GB-seconds against the bare function's, for each kind of work
    expect(cost.goals).toEqual(costGoals(cost));
    expect(Object.keys(cost.goals)).toEqual(COST_WORKS.map((w) => `in_process_vs_bare_gb_seconds_${w}`));
    // AND each path's dollars are its requests, GB-seconds and request units at the section's prices
    const p = cost.prices;
    for (const work of COST_WORKS)
      for (const r of Object.values<Record<string, number>>(cost[work])) {
        const dollars =
          (r.requests_per_million / 1e6) * p.lambda_per_million_requests +
          r.gb_seconds_per_million * p.lambda_per_gb_second +
          (r.write_units_per_million / 1e6) * p.dynamodb_per_million_write_units +
          (r.read_units_per_million / 1e6) * p.dynamodb_per_million_read_units;
        expect(r.dollars_per_million).toBeCloseTo(dollars, 3);
      }
    // AND the bare function touches no DynamoDB, the dispatcher path pays for two functions' requests
    expect([cost.sleep.bare.write_units_per_million, cost.sleep.bare.read_units_per_million]).toEqual([0, 0]);
    expect(cost.sleep.dispatcher.requests_per_million).toBeGreaterThan(cost.sleep.in_process.requests_per_million);
  });

  test('has per event the work and what each path bills over it, from which GB-s vs bare follows', () => {
    // GIVEN the committed cost section
    const { cost } = committed();
    // THEN the figures per event are computed from the section's GB-seconds
    expect(cost.per_event).toEqual(costPerEvent(cost));
    expect(Object.keys(cost.per_event)).toEqual(COST_WORKS);
    // AND a path's GB-s vs bare is 1 + its overhead / the work (to the rounding of the figures: within 0.5%)
    for (const work of COST_WORKS) {
      const e = cost.per_event[work];
      for (const p of ['dispatcher', 'in_process', 'powertools']) {
        const ratio = cost[work][p].gb_seconds_per_million / cost[work].bare.gb_seconds_per_million;
        expect(Math.abs((1 + e[`${p}_overhead_ms`] / e.bare_billed_ms) / ratio - 1)).toBeLessThan(0.005);
      }
    }
  });

  test('the cost table has a row per path and kind of work, the in-process rows with their goal', () => {
    const table = costTable(committed().cost).split('\n');
    expect(table).toHaveLength(2 + 4 * COST_WORKS.length);
    expect(table.filter((row) => row.includes('in-process')).map((row) => /\((met|missed)\) \|$/.test(row))).toEqual(
      COST_WORKS.map(() => true),
    );
  });

  test('the shape check records whether the cost goal is met without requiring it', () => {
    // GIVEN the committed results with the in-process path at twice and at exactly the bare GB-seconds
    for (const factor of [2, 1]) {
      const results = committed();
      const { cost } = results;
      for (const work of COST_WORKS)
        cost[work].in_process.gb_seconds_per_million = cost[work].bare.gb_seconds_per_million * factor;
      cost.per_event = costPerEvent(cost);
      cost.goals = costGoals(cost);
      // THEN the goals say met or missed and the shape is right either way
      expect(Object.values<Goal>(cost.goals).map((g) => g.met)).toEqual(COST_WORKS.map(() => factor === 1));
      expect(resultsProblems(results)).toEqual([]);
    }
  });

  test('has the schemas section with every goal of the issue judged on its numbers', () => {
    // GIVEN the committed schemas section
    const { schemas } = committed();
    // THEN each goal names its bound and says whether the value meets it
    expect(Object.keys(schemas.goals)).toEqual([
      'avro_vs_floor',
      'avro_vs_powertools',
      'protobuf_vs_floor',
      'protobuf_vs_powertools',
      'bundle_kb',
      'require_ms',
    ]);
    for (const g of Object.values<Goal>(schemas.goals))
      expect(g.met).toBe(g.min !== undefined ? g.value >= g.min : g.value <= g.max!);
    expect(schemas.goals).toEqual(schemaGoals(schemas));
  });

  test('comes from a run with the record counts the README states', () => {
    const results = committed();
    expect(results.decode.records).toBe(10_000);
    expect(results.idempotency.records).toBe(1_000);
    expect([results.idempotencySteady.events, results.idempotencySteady.records_per_event]).toEqual([300, 100]);
    expect(results.relay.records).toBe(100_000);
    expect(results.relay.bytes).toBe(1024);
    expect([results.schemas.avro.records, results.schemas.protobuf.records]).toEqual([10_000, 10_000]);
    expect([results.schemas.avro.record_bytes, results.schemas.protobuf.record_bytes]).toEqual([500, 500]);
    expect([results.cost.records, results.cost.records_per_event, results.cost.memory_mb]).toEqual([10_000, 100, 1024]);
    expect([results.cost.sleep_ms_per_record, results.cost.sleep_1s_ms_per_record]).toEqual([1, 10]);
    expect([results.redrive.records, results.redrive.records_per_batch, results.redrive.runs]).toEqual([5_000, 100, 5]);
  });

  test.each([
    [
      'a missing section',
      (r: any) => {
        delete r.relay;
      },
      'relay is missing',
    ],
    [
      'an extra field',
      (r: any) => {
        r.decode.extra = 1;
      },
      'unexpected field decode.extra',
    ],
    [
      'a zero',
      (r: any) => {
        r.coldStart.require_ms_over_node = 0;
      },
      'coldStart.require_ms_over_node must be a positive number, got 0',
    ],
    [
      'a string',
      (r: any) => {
        r.idempotency.ours_ms = '12';
      },
      'idempotency.ours_ms must be a positive number, got "12"',
    ],
    [
      'a missing nested section',
      (r: any) => {
        delete r.schemas.load.first_use_ms;
      },
      'schemas.load.first_use_ms is missing',
    ],
    [
      'a nested zero',
      (r: any) => {
        r.schemas.avro.floor_rps = 0;
      },
      'schemas.avro.floor_rps must be a positive number, got 0',
    ],
    [
      'a negative cost',
      (r: any) => {
        r.cost.cpu.powertools.read_units_per_million = -1;
      },
      'cost.cpu.powertools.read_units_per_million must be a positive number or 0, got -1',
    ],
    [
      'a cost path missing',
      (r: any) => {
        delete r.cost.sleep.in_process;
      },
      'cost.sleep.in_process is missing',
    ],
    [
      'a cost goal not judged on the numbers',
      (r: any) => {
        r.cost.goals.in_process_vs_bare_gb_seconds_cpu.met = !r.cost.goals.in_process_vs_bare_gb_seconds_cpu.met;
      },
      expect.stringMatching(/^cost.goals must be the goals judged on the section's numbers/),
    ],
    [
      'cost figures per event not computed from the numbers',
      (r: any) => {
        r.cost.per_event.sleep_1s.in_process_overhead_ms += 1;
      },
      expect.stringMatching(/^cost.per_event must be computed from the section's numbers/),
    ],
    [
      'a cost work missing',
      (r: any) => {
        delete r.cost.sleep_1s;
      },
      'cost.sleep_1s is missing',
    ],
    [
      'a goal not judged on the numbers',
      (r: any) => {
        r.schemas.goals.bundle_kb.met = !r.schemas.goals.bundle_kb.met;
      },
      expect.stringMatching(/^schemas.goals must be the goals judged on the section's numbers/),
    ],
  ])('fails the shape check with %s', (_, mutate, problem) => {
    // GIVEN the committed results, changed
    const results = committed();
    mutate(results);
    // THEN the check names the problem
    expect(resultsProblems(results)).toEqual(expect.arrayContaining([problem]));
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

  test.each(['avro', 'protobuf'])(
    "the %s decoders of the schema bench read the same orders and agree on their JSON values (Powertools' avro-js wraps unions)",
    async (format) => {
      // GIVEN each implementation's event of the same orders
      const out: Record<string, unknown[]> = {};
      for (const impl of Object.keys(decoders)) {
        const event = eventFor(format, impl, 8);
        for (const group of Object.values<any[]>(event.records))
          for (const r of group)
            expect(Buffer.from(r.value, 'base64').length).toBe(impl === 'powertools' ? FRAMED_BYTES - 5 : FRAMED_BYTES);
        // WHEN decoded
        out[impl] = JSON.parse(JSON.stringify(await (await decoders[impl](format))(event)));
      }
      // THEN all agree on every record
      const unwrapped = (v: any) => ({ ...v, coupon: v.coupon === null ? null : v.coupon.string });
      expect(out.ours).toHaveLength(8);
      for (const impl of ['floor', 'confluent']) expect(out[impl]).toEqual(out.ours);
      expect(format === 'avro' ? out.powertools.map(unwrapped) : out.powertools).toEqual(out.ours);
    },
  );

  test('the chart is drawn from results.json as a PNG', () => {
    const png = path.join(fs.mkdtempSync(path.join(require('os').tmpdir(), 'bench-')), 'chart.png');
    drawChart(RESULTS, png);
    const bytes = fs.readFileSync(png);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(bytes.length).toBeGreaterThan(10_000);
  });
});
