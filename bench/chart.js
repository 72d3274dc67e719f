'use strict';
/**
 * Draws bench/results.png from bench/results.json: one panel per measurement, ours vs the peer as
 * horizontal bars, each labelled with its value. The chart is an SVG rendered to PNG by resvg.
 */
const fs = require('fs');
const path = require('path');
const { Resvg } = require('@resvg/resvg-js');

const OURS = '#1f77b4';
const PEER = '#ff7f0e';
const FLOOR = '#7f7f7f';

function panels(r) {
  return [
    {
      title: `Decode ${r.decode.records.toLocaleString('en')} records (records/s, higher is better)`,
      bars: [
        ['cdk-kafka-lambda', r.decode.ours_rps, OURS],
        ['Powertools kafkaConsumer', r.decode.powertools_rps, PEER],
        ['floor (bare JSON.parse)', r.decode.floor_rps, FLOOR],
      ],
    },
    {
      title: `Idempotency, ${r.idempotency.records.toLocaleString('en')} new records (ms, lower is better)`,
      bars: [
        ['cdk-kafka-lambda', r.idempotency.ours_ms, OURS],
        ['Powertools makeIdempotent', r.idempotency.powertools_ms, PEER],
      ],
    },
    {
      title: `DynamoDB calls for ${r.idempotency.records.toLocaleString('en')} new records (lower is better)`,
      bars: [
        ['cdk-kafka-lambda', r.idempotency.ours_calls, OURS],
        ['Powertools makeIdempotent', r.idempotency.powertools_calls, PEER],
      ],
    },
    {
      title: `Relay ${r.relay.records.toLocaleString('en')} x ${r.relay.bytes} B, acks=all (records/s, higher is better)`,
      bars: [
        ['cdk-kafka-lambda relay', r.relay.ours_rps, OURS],
        ['Kafka ProducerPerformance', r.relay.kafka_perf_rps, PEER],
      ],
    },
    {
      title: 'require() over bare node (ms, lower is better)',
      bars: [
        ['cdk-kafka-lambda dispatcher', r.coldStart.require_ms_over_node, OURS],
        ['Powertools handler', r.coldStart.powertools_require_ms_over_node, PEER],
      ],
    },
    {
      title: 'Bundle size (KB, @aws-sdk external, lower is better)',
      bars: [
        ['cdk-kafka-lambda dispatcher', r.coldStart.bundle_bytes / 1024, OURS],
        ['Powertools handler', r.coldStart.powertools_bundle_bytes / 1024, PEER],
      ],
    },
    ...['avro', 'protobuf'].map((f) => ({
      title: `${f === 'avro' ? 'Avro' : 'Protobuf'} decode ${r.schemas[f].records.toLocaleString('en')} x ${r.schemas[f].record_bytes} B (records/s, higher is better)`,
      bars: [
        ['cdk-kafka-lambda', r.schemas[f].ours_rps, OURS],
        ['Powertools kafkaConsumer', r.schemas[f].powertools_rps, PEER],
        ['@confluentinc/schemaregistry', r.schemas[f].confluent_rps, PEER],
        [`floor (${f === 'avro' ? 'avsc' : 'protobufjs'})`, r.schemas[f].floor_rps, FLOOR],
      ],
    })),
    {
      title: 'Bundle with schema decoding (KB, @aws-sdk external, lower is better)',
      bars: [
        ['cdk-kafka-lambda dispatcher', r.schemas.load.bundle_bytes / 1024, OURS],
        ['Powertools kafkaConsumer', r.schemas.load.powertools_bundle_bytes / 1024, PEER],
        ['@confluentinc/schemaregistry', r.schemas.load.confluent_bundle_bytes / 1024, PEER],
      ],
    },
  ];
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString('en') : String(Math.round(v * 10) / 10));

function svg(results) {
  const width = 900;
  const labelW = 230;
  const barMax = width - labelW - 120;
  const barH = 22;
  let y = 20;
  const parts = [];
  for (const p of panels(results)) {
    parts.push(`<text x="20" y="${y + 14}" font-size="15" font-weight="bold">${esc(p.title)}</text>`);
    y += 26;
    const max = Math.max(...p.bars.map((b) => b[1]), 1e-9);
    for (const [label, value, color] of p.bars) {
      const w = Math.max(1, (value / max) * barMax);
      parts.push(`<text x="${labelW}" y="${y + 16}" font-size="13" text-anchor="end">${esc(label)}</text>`);
      parts.push(`<rect x="${labelW + 10}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
      parts.push(`<text x="${(labelW + 16 + w).toFixed(1)}" y="${y + 16}" font-size="13">${esc(fmt(value))}</text>`);
      y += barH + 6;
    }
    y += 16;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`
  );
}

function drawChart(resultsFile, pngFile) {
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  const png = new Resvg(svg(results), { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  fs.writeFileSync(pngFile, png);
  return pngFile;
}

module.exports = { drawChart };

if (require.main === module) {
  const file = drawChart(path.join(__dirname, 'results.json'), path.join(__dirname, 'results.png'));
  process.stdout.write(`${file}\n`);
}
