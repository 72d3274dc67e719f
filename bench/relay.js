'use strict';
/**
 * Relay to the real broker: `records` responses of `bytes` bytes (the record value) through
 * KafkaRelay.sendResponses, driven as the dispatcher drives it (batches of 100 records, the default
 * batchSize, one batch in flight per partition, 4 partitions at a time, the default concurrency), vs
 * Kafka's ProducerPerformance with the same record size and acks=all. Both write to a fresh 4-partition topic.
 */
const path = require('path');
const { execFile } = require('child_process');
const { ROOT } = require('./common');

const BATCH = 100;
const PARTITIONS = 4;

/** Records on the topic (sum of the partitions' high watermarks): proof the measured sends landed. */
async function recordsOn(te, env, topic) {
  const { Kafka, logLevel } = require('kafkajs');
  const admin = new Kafka({ ...te.kafkaClientConfig('plaintext', {}, env), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

async function ours(te, env, records, bytes) {
  const { KafkaRelay } = require(path.join(ROOT, 'build', 'runtime', 'kafka', 'relay.js'));
  const topic = `bench-relay-ours-${Date.now().toString(36)}`;
  await te.createTopic(topic, PARTITIONS, env);
  const relay = new KafkaRelay({ bootstrapServers: [env.kafka.bootstrap.plaintext], responseTopic: topic });
  // The value is JSON.stringify(result): a string result of bytes - 2 characters serializes to `bytes` bytes.
  const result = 'r'.repeat(bytes - 2);
  const item = (p, offset) => ({ record: { topic: 'orders', partition: p, offset }, result });
  await relay.sendResponses([item(0, 0)]); // connect outside the timed part, as a warm container would be
  const perPartition = Math.ceil(records / PARTITIONS);
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: PARTITIONS }, async (_, p) => {
      for (let off = 0; off < perPartition; off += BATCH) {
        const n = Math.min(BATCH, perPartition - off);
        await relay.sendResponses(Array.from({ length: n }, (_, i) => item(p, off + i)));
      }
    }),
  );
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  await relay.disconnect();
  const landed = await recordsOn(te, env, topic);
  if (landed !== perPartition * PARTITIONS + 1)
    throw new Error(`relay: ${landed - 1} of ${perPartition * PARTITIONS} records on ${topic}`);
  return (perPartition * PARTITIONS) / (ms / 1000);
}

function kafkaPerf(te, env, records, bytes) {
  return new Promise((resolve, reject) => {
    const topic = `bench-relay-perf-${Date.now().toString(36)}`;
    te.createTopic(topic, PARTITIONS, env).then(() => {
      execFile(
        'java',
        [
          '-Xmx512m',
          '-cp',
          `${env.kafka.libDir}/*`,
          'org.apache.kafka.tools.ProducerPerformance',
          '--topic',
          topic,
          '--num-records',
          String(records),
          '--record-size',
          String(bytes),
          '--throughput',
          '-1',
          '--producer-props',
          `bootstrap.servers=${env.kafka.bootstrap.plaintext}`,
          'acks=all',
          'enable.idempotence=true',
        ],
        { maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) return reject(new Error(`ProducerPerformance failed: ${err.message}\n${stderr}`));
          // Last line: "100000 records sent, 51234.5 records/sec (50.03 MB/sec), ..."
          const m = /(\d+) records sent, ([\d.]+) records\/sec/.exec(stdout.trim().split('\n').pop());
          if (!m || Number(m[1]) !== records)
            return reject(new Error(`ProducerPerformance did not send ${records} records:\n${stdout}`));
          recordsOn(te, env, topic).then(
            (landed) =>
              landed === records
                ? resolve(Number(m[2]))
                : reject(new Error(`ProducerPerformance: ${landed} of ${records} records on ${topic}`)),
            reject,
          );
        },
      );
    }, reject);
  });
}

/** Two rounds, peer-ours then ours-peer, so both see the same load; records per second averaged. */
async function benchRelay(te, env, records, bytes, log) {
  const o = [];
  const p = [];
  for (let round = 0; round < 2; round++) {
    const runOurs = async () => o.push(await ours(te, env, records, bytes));
    const runPeer = async () => p.push(await kafkaPerf(te, env, records, bytes));
    if (round === 0) {
      await runPeer();
      await runOurs();
    } else {
      await runOurs();
      await runPeer();
    }
    log(`relay round ${round + 1}: ours ${o[round].toFixed(0)}, ProducerPerformance ${p[round].toFixed(0)} records/s`);
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { records, bytes, ours_rps: Math.round(mean(o)), kafka_perf_rps: Math.round(mean(p)) };
}

module.exports = { benchRelay };
