'use strict';
/** Helpers shared by the benchmark parts. */
const path = require('path');

const ROOT = path.join(__dirname, '..');

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A JSON object whose serialization is exactly `bytes` long (bytes >= 40). */
function jsonOfSize(i, bytes) {
  const head = { id: i, customer: `c-${i % 977}`, amount: ((i * 7919) % 100000) / 100, note: '' };
  const pad = bytes - Buffer.byteLength(JSON.stringify(head));
  head.note = 'x'.repeat(pad);
  return head;
}

/**
 * A SelfManagedKafka event as the ESM sends it: `records` records spread over `partitions`
 * "topic-partition" groups, each with a key, a JSON value of `valueBytes` bytes (or the bytes `value(i)`
 * returns), one header and any other `fields`.
 */
function kafkaEvent(
  records,
  {
    valueBytes = 500,
    partitions = 4,
    topic = 'orders',
    value = (i) => Buffer.from(JSON.stringify(jsonOfSize(i, valueBytes))),
    fields = {},
  } = {},
) {
  const groups = {};
  for (let p = 0; p < partitions; p++) groups[`${topic}-${p}`] = [];
  const header = [...Buffer.from('bench-trace-0001')];
  for (let i = 0; i < records; i++) {
    const p = i % partitions;
    const group = groups[`${topic}-${p}`];
    group.push({
      topic,
      partition: p,
      offset: 1000 + group.length,
      timestamp: 1763900000000 + i,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(`order-${i}`).toString('base64'),
      value: value(i).toString('base64'),
      headers: [{ traceparent: header }],
      ...fields,
    });
  }
  return { eventSource: 'SelfManagedKafka', bootstrapServers: '127.0.0.1:9092', records: groups };
}

module.exports = { ROOT, median, jsonOfSize, kafkaEvent };
