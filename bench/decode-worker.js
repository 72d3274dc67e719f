'use strict';
/**
 * One decode measurement in a fresh process: `node decode-worker.js <ours|powertools|floor> <records>`.
 * Builds the event, runs the decoder WARMUP times (a warm Lambda container), then times ROUNDS passes
 * and prints the median records per second as JSON.
 */
const path = require('path');
const { ROOT, median, kafkaEvent } = require('./common');

const WARMUP = 3;
const ROUNDS = 7;

const decoders = {
  ours() {
    const { decodeEvent } = require(path.join(ROOT, 'build', 'runtime', 'dispatcher', 'source.js'));
    return async (event) => {
      let n = 0;
      for (const r of decodeEvent(event)) if (r.valueAsJson() !== null) n++;
      return n;
    };
  },
  powertools() {
    const { kafkaConsumer } = require('@aws-lambda-powertools/kafka');
    return kafkaConsumer(
      async (event) => {
        let n = 0;
        for (const r of event.records) if (r.value !== null) n++;
        return n;
      },
      { value: { type: 'json' } },
    );
  },
  floor() {
    return async (event) => {
      let n = 0;
      for (const group of Object.values(event.records)) {
        for (const r of group) if (JSON.parse(Buffer.from(r.value, 'base64').toString()) !== null) n++;
      }
      return n;
    };
  },
};

(async () => {
  const [impl, recordsArg] = process.argv.slice(2);
  const records = Number(recordsArg);
  const decode = decoders[impl]();
  const event = kafkaEvent(records);
  const context = {};
  const rps = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const start = process.hrtime.bigint();
    const n = await decode(event, context);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (n !== records) throw new Error(`${impl} decoded ${n} of ${records} records`);
    if (i >= WARMUP) rps.push(records / (ms / 1000));
  }
  process.stdout.write(JSON.stringify({ impl, rps: median(rps) }) + '\n');
})().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
