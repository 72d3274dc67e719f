'use strict';
/** The shape of bench/results.json the README's table and its test read: these sections and fields, each a positive number. */
const RESULTS_SHAPE = {
  decode: ['records', 'ours_rps', 'powertools_rps', 'floor_rps'],
  idempotency: ['records', 'ours_calls', 'powertools_calls', 'ours_items_written', 'powertools_items_written', 'ours_write_units', 'powertools_write_units', 'ours_ms', 'powertools_ms'],
  relay: ['records', 'bytes', 'ours_rps', 'kafka_perf_rps'],
  coldStart: ['bundle_bytes', 'require_ms_over_node', 'powertools_bundle_bytes', 'powertools_require_ms_over_node'],
};

/** Problems with a results object: [] when it has exactly the shape with positive finite numbers. */
function resultsProblems(results) {
  if (typeof results !== 'object' || results === null || Array.isArray(results)) return ['results must be an object'];
  const problems = [];
  const sections = Object.keys(RESULTS_SHAPE);
  for (const extra of Object.keys(results).filter((k) => !sections.includes(k))) problems.push(`unexpected section ${extra}`);
  for (const section of sections) {
    const s = results[section];
    if (typeof s !== 'object' || s === null) { problems.push(`${section} is missing`); continue; }
    for (const extra of Object.keys(s).filter((k) => !RESULTS_SHAPE[section].includes(k))) problems.push(`unexpected field ${section}.${extra}`);
    for (const field of RESULTS_SHAPE[section]) {
      const v = s[field];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push(`${section}.${field} must be a positive number, got ${JSON.stringify(v)}`);
    }
  }
  return problems;
}

module.exports = { RESULTS_SHAPE, resultsProblems };
