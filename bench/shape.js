'use strict';
/**
 * The shape of bench/results.json the README's table and its test read: these sections and fields, each a positive
 * number; an object in a field list names nested fields. The schemas and cost sections also have their goals, each
 * judged on the section's numbers.
 */
const SCHEMA_DECODE = ['records', 'record_bytes', 'ours_rps', 'powertools_rps', 'floor_rps', 'confluent_rps'];
/** A cost path's figures per million records: Lambda's, then DynamoDB's for the paths with idempotency. */
const COST_BARE = [
  'requests_per_million',
  'gb_seconds_per_million',
  'write_units_per_million',
  'read_units_per_million',
  'dollars_per_million',
];
/** With idempotency: also the time per event with a DynamoDB call outstanding. */
const COST_IDEMPOTENT = [...COST_BARE, 'dynamodb_busy_ms_per_event'];
/** Fields that may be 0: a path without DynamoDB, or one that only writes. */
const ZERO_ALLOWED = { cost: ['write_units_per_million', 'read_units_per_million'] };
const COST_PATHS = [
  {
    bare: COST_BARE,
    dispatcher: [...COST_IDEMPOTENT, 'dispatcher_gb_seconds_per_million'],
    in_process: COST_IDEMPOTENT,
    powertools: COST_IDEMPOTENT,
  },
];
const RESULTS_SHAPE = {
  decode: ['records', 'ours_rps', 'powertools_rps', 'floor_rps'],
  idempotency: [
    'records',
    'ours_calls',
    'powertools_calls',
    'ours_items_written',
    'powertools_items_written',
    'ours_write_units',
    'powertools_write_units',
    'ours_ms',
    'powertools_ms',
  ],
  idempotencySteady: [
    'events',
    'records_per_event',
    ...['plain', 'responses', 'gaps'].flatMap((shape) =>
      ['write_units_per_million', 'read_units_per_million', 'items_per_million', 'item_bytes'].map((f) => `${shape}_${f}`),
    ),
  ],
  relay: ['records', 'bytes', 'ours_rps', 'kafka_perf_rps'],
  coldStart: ['bundle_bytes', 'require_ms_over_node', 'powertools_bundle_bytes', 'powertools_require_ms_over_node'],
  schemas: [
    {
      avro: SCHEMA_DECODE,
      protobuf: SCHEMA_DECODE,
      load: [
        'bundle_bytes',
        'require_ms_over_node',
        'powertools_bundle_bytes',
        'powertools_require_ms_over_node',
        'confluent_bundle_bytes',
        'confluent_require_ms_over_node',
        {
          lazy_bytes: ['avsc', 'protobufjs', 'protobufjs/ext/descriptor', 'ajv'],
          first_use_ms: ['avro', 'protobuf', 'protobuf_descriptor', 'json'],
        },
      ],
    },
  ],
  cost: [
    'records',
    'records_per_event',
    'partitions',
    'memory_mb',
    'dispatcher_memory_mb',
    'sleep_ms_per_record',
    'sha256_rounds_per_record',
    {
      prices: [
        'lambda_per_million_requests',
        'lambda_per_gb_second',
        'dynamodb_per_million_write_units',
        'dynamodb_per_million_read_units',
      ],
      sleep: COST_PATHS,
      cpu: COST_PATHS,
      load_1min: ['min', 'median', 'max'],
    },
  ],
};
/** Sections that carry their goals besides their numbers, and how the goals are judged on them. */
const GOALS = { schemas: (s) => schemaGoals(s), cost: (s) => costGoals(s) };

/** The goals for the schemas section, each with the value it is judged on. */
function schemaGoals(s) {
  const atLeast = (value, min) => ({ value: round2(value), min, met: value >= min });
  const atMost = (value, max) => ({ value: round2(value), max, met: value <= max });
  return {
    avro_vs_floor: atLeast(s.avro.ours_rps / s.avro.floor_rps, 0.8),
    avro_vs_powertools: atLeast(s.avro.ours_rps / s.avro.powertools_rps, 10),
    protobuf_vs_floor: atLeast(s.protobuf.ours_rps / s.protobuf.floor_rps, 0.8),
    protobuf_vs_powertools: atLeast(s.protobuf.ours_rps / s.protobuf.powertools_rps, 10),
    bundle_kb: atMost(s.load.bundle_bytes / 1024, 300),
    require_ms: atMost(s.load.require_ms_over_node, 40),
  };
}

/** The goal for the cost section: the in-process path's GB-seconds within 1.15× of the bare function's, for each kind of work. */
function costGoals(s) {
  const atMost = (value, max) => ({ value: round2(value), max, met: value <= max });
  return {
    in_process_vs_bare_gb_seconds_sleep: atMost(
      s.sleep.in_process.gb_seconds_per_million / s.sleep.bare.gb_seconds_per_million,
      1.15,
    ),
    in_process_vs_bare_gb_seconds_cpu: atMost(s.cpu.in_process.gb_seconds_per_million / s.cpu.bare.gb_seconds_per_million, 1.15),
  };
}

const round2 = (x) => Math.round(x * 100) / 100;
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Problems with the fields of `value` (named `where`) against a field list. */
function fieldProblems(value, fields, where, extraAllowed = [], zeroAllowed = []) {
  const names = fields.flatMap((f) => (typeof f === 'string' ? [f] : Object.keys(f)));
  const problems = [];
  for (const extra of Object.keys(value).filter((k) => !names.includes(k) && !extraAllowed.includes(k)))
    problems.push(`unexpected field ${where}.${extra}`);
  for (const f of fields) {
    if (typeof f !== 'string') {
      for (const [name, nested] of Object.entries(f)) {
        if (isObject(value[name])) problems.push(...fieldProblems(value[name], nested, `${where}.${name}`, [], zeroAllowed));
        else problems.push(`${where}.${name} is missing`);
      }
      continue;
    }
    const v = value[f];
    if (zeroAllowed.includes(f) && v === 0) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      problems.push(`${where}.${f} must be a positive number${zeroAllowed.includes(f) ? ' or 0' : ''}, got ${JSON.stringify(v)}`);
  }
  return problems;
}

/** Problems with a results object: [] when it has exactly the shape with positive finite numbers and goals judged on them. */
function resultsProblems(results) {
  if (!isObject(results)) return ['results must be an object'];
  const problems = [];
  const sections = Object.keys(RESULTS_SHAPE);
  for (const extra of Object.keys(results).filter((k) => !sections.includes(k))) problems.push(`unexpected section ${extra}`);
  for (const section of sections) {
    const s = results[section];
    if (!isObject(s)) {
      problems.push(`${section} is missing`);
      continue;
    }
    const goals = GOALS[section];
    const own = fieldProblems(s, RESULTS_SHAPE[section], section, goals ? ['goals'] : [], ZERO_ALLOWED[section]);
    problems.push(...own);
    if (goals && own.length === 0 && JSON.stringify(s.goals) !== JSON.stringify(goals(s))) {
      problems.push(
        `${section}.goals must be the goals judged on the section's numbers: ${JSON.stringify(goals(s))}, got ${JSON.stringify(s.goals)}`,
      );
    }
  }
  return problems;
}

module.exports = { RESULTS_SHAPE, resultsProblems, schemaGoals, costGoals };
