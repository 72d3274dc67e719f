'use strict';
/**
 * The shape of bench/results.json the README's table and its test read: these sections and fields, each a positive
 * number; an object in a field list names nested fields. The schemas section also has its goals, each judged on the
 * section's numbers.
 */
const SCHEMA_DECODE = ['records', 'record_bytes', 'ours_rps', 'powertools_rps', 'floor_rps', 'confluent_rps'];
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

const round2 = (x) => Math.round(x * 100) / 100;
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Problems with the fields of `value` (named `where`) against a field list. */
function fieldProblems(value, fields, where, extraAllowed = []) {
  const names = fields.flatMap((f) => (typeof f === 'string' ? [f] : Object.keys(f)));
  const problems = [];
  for (const extra of Object.keys(value).filter((k) => !names.includes(k) && !extraAllowed.includes(k)))
    problems.push(`unexpected field ${where}.${extra}`);
  for (const f of fields) {
    if (typeof f !== 'string') {
      for (const [name, nested] of Object.entries(f)) {
        if (isObject(value[name])) problems.push(...fieldProblems(value[name], nested, `${where}.${name}`));
        else problems.push(`${where}.${name} is missing`);
      }
      continue;
    }
    const v = value[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      problems.push(`${where}.${f} must be a positive number, got ${JSON.stringify(v)}`);
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
    const own = fieldProblems(s, RESULTS_SHAPE[section], section, section === 'schemas' ? ['goals'] : []);
    problems.push(...own);
    if (section === 'schemas' && own.length === 0 && JSON.stringify(s.goals) !== JSON.stringify(schemaGoals(s))) {
      problems.push(
        `schemas.goals must be the goals judged on the section's numbers: ${JSON.stringify(schemaGoals(s))}, got ${JSON.stringify(s.goals)}`,
      );
    }
  }
  return problems;
}

module.exports = { RESULTS_SHAPE, resultsProblems, schemaGoals };
