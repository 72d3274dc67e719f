'use strict';
/**
 * The README table for a results.json: each measurement, ours vs the peer, the ratio and the goal; and the cost
 * section's own table (docs/benchmarks.md, "Cost per million records").
 */
const fs = require('fs');
const path = require('path');

const n = (v) => (v >= 1000 ? Math.round(v).toLocaleString('en') : String(Math.round(v * 10) / 10));
const x = (v) => `${(Math.round(v * 100) / 100).toFixed(2)}×`;

function markdownTable(r) {
  const d = r.decode;
  const i = r.idempotency;
  const rl = r.relay;
  const c = r.coldStart;
  const rows = [
    ['| measurement | cdk-kafka-lambda | peer | ratio | goal |', '| --- | ---: | ---: | ---: | --- |'],
    [
      `| decode ${n(d.records)} records, records/s | ${n(d.ours_rps)} | Powertools kafkaConsumer ${n(d.powertools_rps)} | ${x(d.ours_rps / d.powertools_rps)} | ≥ 4× |`,
    ],
    [
      `| decode vs the floor (bare JSON.parse loop), records/s | ${n(d.ours_rps)} | floor ${n(d.floor_rps)} | ${x(d.ours_rps / d.floor_rps)} | ≥ 0.8× |`,
    ],
    [
      `| idempotency ${n(i.records)} new records, DynamoDB calls | ${n(i.ours_calls)} (${i.ours_calls / i.records} per record) | Powertools ${n(i.powertools_calls)} | ${x(i.powertools_calls / i.ours_calls)} fewer | ≤ 0.05 per record |`,
    ],
    [
      `| idempotency ${n(i.records)} new records, items written | ${n(i.ours_items_written)} (${i.ours_items_written / i.records} per record) | Powertools ${n(i.powertools_items_written)} | ${x(i.powertools_items_written / i.ours_items_written)} fewer | ≤ 0.05 per record |`,
    ],
    [
      `| idempotency ${n(i.records)} new records, write units | ${n(i.ours_write_units)} | Powertools ${n(i.powertools_write_units)} | ${x(i.powertools_write_units / i.ours_write_units)} fewer | |`,
    ],
    [
      `| idempotency ${n(i.records)} new records, ms | ${n(i.ours_ms)} | Powertools ${n(i.powertools_ms)} | ${x(i.powertools_ms / i.ours_ms)} faster | ≥ 10× |`,
    ],
    steadyRows(r.idempotencySteady, i),
    [
      `| relay ${n(rl.records)} × ${rl.bytes} B, acks=all, records/s | ${n(rl.ours_rps)} | ProducerPerformance ${n(rl.kafka_perf_rps)} | ${x(rl.ours_rps / rl.kafka_perf_rps)} | ≥ 0.5× |`,
    ],
    [
      `| require over bare node, ms | ${n(c.require_ms_over_node)} | Powertools handler ${n(c.powertools_require_ms_over_node)} | ${x(c.powertools_require_ms_over_node / c.require_ms_over_node)} faster | ≤ 40 ms |`,
    ],
    [
      `| bundle, KB (@aws-sdk external) | ${n(c.bundle_bytes / 1024)} | Powertools handler ${n(c.powertools_bundle_bytes / 1024)} | ${x(c.bundle_bytes / c.powertools_bundle_bytes)} the size | ≤ 300 KB |`,
    ],
    schemaRows(r.schemas),
  ];
  return rows.flat().join('\n');
}

/** Steady state per million records, each shape against Powertools' per-record items (the idempotency section's units per record). */
function steadyRows(st, i) {
  const peer = (i.powertools_write_units / i.records) * 1_000_000;
  const shapes = { plain: 'no response topic', responses: 'results of ~20 B relayed', gaps: 'offset gaps between events' };
  return Object.entries(shapes).map(
    ([k, text]) =>
      `| idempotency steady state (${st.events} events × ${st.records_per_event} records, ${text}), write units per million records | ${n(st[`${k}_write_units_per_million`])} (read ${n(st[`${k}_read_units_per_million`])}; item ≤ ${st[`${k}_item_bytes`]} B) | Powertools ${n(peer)} | ${x(peer / st[`${k}_write_units_per_million`])} fewer | |`,
  );
}

const goal = (g, text) => `${text} (${g.met ? 'met' : 'missed'})`;

/** The schemas section's rows: each format against its three peers, then what the codecs cost to ship and load. */
function schemaRows(s) {
  const g = s.goals;
  const l = s.load;
  const decodeRows = (f, name, floor, confluent) => [
    `| ${name} decode ${n(f.records)} × ${f.record_bytes} B (Confluent wire format), records/s | ${n(f.ours_rps)} | Powertools kafkaConsumer ${n(f.powertools_rps)} | ${x(f.ours_rps / f.powertools_rps)} | ${goal(g[`${name.toLowerCase()}_vs_powertools`], '≥ 10×')} |`,
    `| ${name} decode vs the floor (${floor}), records/s | ${n(f.ours_rps)} | floor ${n(f.floor_rps)} | ${x(f.ours_rps / f.floor_rps)} | ${goal(g[`${name.toLowerCase()}_vs_floor`], '≥ 0.8×')} |`,
    `| ${name} decode vs Confluent's ${confluent}, records/s | ${n(f.ours_rps)} | @confluentinc/schemaregistry ${n(f.confluent_rps)} | ${x(f.ours_rps / f.confluent_rps)} | |`,
  ];
  const kb = (b) => n(b / 1024);
  return [
    ...decodeRows(s.avro, 'Avro', 'avsc, the schema parsed once', 'AvroDeserializer'),
    ...decodeRows(s.protobuf, 'Protobuf', 'protobufjs decode and toObject', 'ProtobufDeserializer'),
    `| dispatcher bundle with schema decoding, KB (@aws-sdk external) | ${kb(l.bundle_bytes)} | Confluent's Avro, Protobuf and JSON deserializers ${kb(l.confluent_bundle_bytes)} | ${x(l.bundle_bytes / l.confluent_bundle_bytes)} the size | ${goal(g.bundle_kb, '≤ 300 KB')} |`,
    `| | | Powertools kafkaConsumer with avro-js and protobufjs ${kb(l.powertools_bundle_bytes)} | ${x(l.bundle_bytes / l.powertools_bundle_bytes)} the size | |`,
    `| libraries loaded on a codec's first use, KB | ${Object.entries(l.lazy_bytes)
      .map(([m, b]) => `${m} ${kb(b)}`)
      .join(', ')} | | | |`,
    `| require of the bundle over bare node, ms | ${n(l.require_ms_over_node)} | Confluent's deserializers ${n(l.confluent_require_ms_over_node)} | ${x(l.require_ms_over_node / l.confluent_require_ms_over_node)} the time | ${goal(g.require_ms, '≤ 40 ms')} |`,
    `| | | Powertools kafkaConsumer ${n(l.powertools_require_ms_over_node)} | ${x(l.require_ms_over_node / l.powertools_require_ms_over_node)} the time | |`,
    `| first use of a codec (library required, schema compiled, one record decoded), ms | ${Object.entries({
      Avro: 'avro',
      Protobuf: 'protobuf',
      'Protobuf descriptor': 'protobuf_descriptor',
      'JSON Schema': 'json',
    })
      .map(([name, k]) => `${name} ${n(l.first_use_ms[k])}`)
      .join(', ')} | | | |`,
  ];
}

const COST_PATHS = {
  bare: 'bare function (the floor, no idempotency)',
  dispatcher: 'dispatcher + target function',
  in_process: 'in-process (inProcessHandler)',
  powertools: 'Powertools kafkaConsumer + makeIdempotent per record',
};

/**
 * The cost section's table: per million records, each path and kind of work, with its ratio to the bare function;
 * and per event, the bare function's billed ms (the work) and each other path's over it, at the work's memory
 * (GB-s vs bare = 1 + overhead / work).
 */
function costTable(c) {
  if (c === undefined) return '';
  const usd = (v) => `$${v.toFixed(v >= 10 ? 2 : 4)}`;
  const batch = (ms) => `${n(ms * c.records_per_event)} ms per ${c.records_per_event}-record batch`;
  const works = {
    sleep: `wait ${c.sleep_ms_per_record} ms per record (${batch(c.sleep_ms_per_record)})`,
    cpu: `${n(c.sha256_rounds_per_record)} SHA-256 rounds per record`,
    sleep_1s: `wait ${c.sleep_1s_ms_per_record} ms per record (${batch(c.sleep_1s_ms_per_record)})`,
  };
  const rows = [
    `| work | path | Lambda requests | Lambda GB-s | DynamoDB write units | DynamoDB read units | dollars | billed ms per event at ${c.memory_mb} MB: the work, then over it | GB-s vs bare | dollars vs bare | goal |`,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const [w, text] of Object.entries(works)) {
    const bare = c[w].bare;
    const perEvent = c.per_event[w];
    for (const [p, name] of Object.entries(COST_PATHS)) {
      const r = c[w][p];
      const ms =
        p === 'bare'
          ? n(perEvent.bare_billed_ms)
          : `${perEvent[`${p}_overhead_ms`] >= 0 ? '+' : ''}${n(perEvent[`${p}_overhead_ms`])}`;
      const gbs =
        p === 'dispatcher'
          ? `${n(r.gb_seconds_per_million)} (dispatcher ${n(r.dispatcher_gb_seconds_per_million)})`
          : n(r.gb_seconds_per_million);
      const g = p === 'in_process' ? goal(c.goals[`in_process_vs_bare_gb_seconds_${w}`], '≤ 1.15× bare GB-s') : '';
      rows.push(
        `| ${text} | ${name} | ${n(r.requests_per_million)} | ${gbs} | ${n(r.write_units_per_million)} | ${n(r.read_units_per_million)} | ${usd(r.dollars_per_million)} | ${ms} | ${x(r.gb_seconds_per_million / bare.gb_seconds_per_million)} | ${x(r.dollars_per_million / bare.dollars_per_million)} | ${g} |`,
      );
    }
  }
  return rows.join('\n');
}

/**
 * The redrive section's table (docs/benchmarks.md, "Redrive"): records per second to the same dispatcher, the local
 * mapping's delivery beside each redrive source, over the delivery window and over the whole run.
 */
function redriveTable(r) {
  if (r === undefined) return '';
  const per = `${n(r.records)} records of ${r.value_bytes} B, ${r.records_per_batch} per batch, ${r.partitions} partitions`;
  const rows = [
    `| ${per} | first to last delivered, records/s | first to last delivered vs local | whole run, records/s |`,
    '| --- | ---: | ---: | ---: |',
    `| \`local\` (LocalEventSourceMapping), the emulator's normal delivery | ${n(r.local_rps)} | 1.00× | ${n(r.local_run_rps)} (group join included) |`,
    `| \`redrive --from-error-topic\` (records carried with their bytes) | ${n(r.error_topic_delivery_rps)} | ${x(r.error_topic_delivery_rps / r.local_rps)} | ${n(r.error_topic_rps)} |`,
    `| \`redrive --from-sqs\` (on-failure records, read again from Kafka) | ${n(r.sqs_delivery_rps)} | ${x(r.sqs_delivery_rps / r.local_rps)} | ${n(r.sqs_rps)} |`,
  ];
  return rows.join('\n');
}

module.exports = { markdownTable, costTable, redriveTable };

if (require.main === module) {
  const file = process.argv[2] || path.join(__dirname, 'results.json');
  const results = JSON.parse(fs.readFileSync(file, 'utf8'));
  process.stdout.write(`${markdownTable(results)}\n\n${costTable(results.cost)}\n\n${redriveTable(results.redrive)}\n`);
}
