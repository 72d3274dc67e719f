'use strict';
/**
 * The shape of bench/results.json the README's table and its test read: these sections and fields, each a positive
 * number; an object in a field list names nested fields. The schemas and cost sections also have their goals, each
 * judged on the section's numbers, and the cost section its figures per event, computed from them: the check is that
 * they are what the numbers give, not that a goal is met (the section is a measurement).
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
/** The cost section's kinds of work: a wait of 1 ms a record, SHA-256 rounds, a wait of 10 ms a record (1 s a batch). */
const COST_WORKS = ['sleep', 'cpu', 'sleep_1s'];
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
    'sleep_1s_ms_per_record',
    'sha256_rounds_per_record',
    {
      prices: [
        'lambda_per_million_requests',
        'lambda_per_gb_second',
        'dynamodb_per_million_write_units',
        'dynamodb_per_million_read_units',
      ],
      ...Object.fromEntries(COST_WORKS.map((w) => [w, COST_PATHS])),
      load_1min: ['min', 'median', 'max'],
    },
  ],
  redrive: [
    'records',
    'records_per_batch',
    'partitions',
    'value_bytes',
    'runs',
    'local_rps',
    'local_run_rps',
    'error_topic_rps',
    'error_topic_delivery_rps',
    'sqs_rps',
    'sqs_delivery_rps',
  ],
};
/** Sections that carry fields computed from their numbers (their goals; the cost section's figures per event), and how. */
const DERIVED = {
  schemas: { goals: (s) => schemaGoals(s) },
  cost: { per_event: (s) => costPerEvent(s), goals: (s) => costGoals(s) },
};

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

/**
 * The goal for the cost section, the in-process path's GB-seconds within 1.15× of the bare function's, judged for each
 * kind of work: whether this work met it, not a requirement.
 */
function costGoals(s) {
  const atMost = (value, max) => ({ value: round2(value), max, met: value <= max });
  return Object.fromEntries(
    COST_WORKS.map((w) => [
      `in_process_vs_bare_gb_seconds_${w}`,
      atMost(s[w].in_process.gb_seconds_per_million / s[w].bare.gb_seconds_per_million, 1.15),
    ]),
  );
}

/**
 * One kind of work's figures per event (records_per_event records), in billed ms at the work's memory (memory_mb):
 * the bare function's (the work and its decoding) and what each other path bills over it, from the GB-seconds per
 * million records (the dispatcher's own at its memory included). A path's GB-s vs bare is 1 + overhead / bare.
 */
function perEventOf(s, w) {
  const eventsPerMillion = 1_000_000 / s.records_per_event;
  const ms = (p) => ((w[p].gb_seconds_per_million / eventsPerMillion) * 1000 * 1024) / s.memory_mb;
  const round1 = (v) => Math.round(v * 10) / 10;
  return {
    bare_billed_ms: round1(ms('bare')),
    dispatcher_overhead_ms: round1(ms('dispatcher') - ms('bare')),
    in_process_overhead_ms: round1(ms('in_process') - ms('bare')),
    powertools_overhead_ms: round1(ms('powertools') - ms('bare')),
  };
}

/** The cost section's figures per event for each kind of work. */
function costPerEvent(s) {
  return Object.fromEntries(COST_WORKS.map((w) => [w, perEventOf(s, s[w])]));
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
    const derived = DERIVED[section] ?? {};
    const own = fieldProblems(s, RESULTS_SHAPE[section], section, Object.keys(derived), ZERO_ALLOWED[section]);
    problems.push(...own);
    if (own.length > 0) continue;
    for (const [field, compute] of Object.entries(derived)) {
      const expected = JSON.stringify(compute(s));
      if (JSON.stringify(s[field]) !== expected) {
        const what = field === 'goals' ? "the goals judged on the section's numbers" : "computed from the section's numbers";
        problems.push(`${section}.${field} must be ${what}: ${expected}, got ${JSON.stringify(s[field])}`);
      }
    }
  }
  return problems;
}

module.exports = { RESULTS_SHAPE, COST_WORKS, resultsProblems, schemaGoals, costGoals, costPerEvent, perEventOf };
