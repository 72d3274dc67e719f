'use strict';
/**
 * Functions for the emulator tests and the e2e ledger, run under the Lambda emulator (or in-process).
 * ok: answers {}. fail: throws. failOnPoison: throws when a record's value contains "poison".
 * partialPoison: a partial batch response naming the records whose value contains "poison".
 * echo: the Confluent response format, result = { echo: value } (the dispatcher's target);
 *   with POISON=1 it throws for batches holding a "poison" value; SLOW_EVERY=n sleeps SLOW_MS every n-th invocation;
 *   DELAY_MS sleeps that long in every invocation; LARGE_EVERY=n pads the result of every record whose value's n is a
 *   multiple of it to 70 KB-900 KB (a size that varies with n).
 */
const values = (event) => Object.values(event.records || {}).flat().map((r) => ({ r, v: r.value ? Buffer.from(r.value, 'base64').toString('utf8') : null }));

exports.ok = async () => ({});
exports.fail = async () => { throw new Error('failed on purpose'); };
exports.failOnPoison = async (event) => {
  if (values(event).some(({ v }) => v && v.includes('poison'))) throw new Error('poison record');
  return {};
};
exports.partialPoison = async (event) => ({
  batchItemFailures: values(event).filter(({ v }) => v && v.includes('poison'))
    .map(({ r }) => ({ itemIdentifier: { partition: `${r.topic}-${r.partition}`, offset: r.offset } })),
});

let calls = 0;
exports.echo = async (event) => {
  calls++;
  if (process.env.POISON === '1' && event.some(({ payload }) => JSON.stringify(payload.value).includes('poison'))) throw new Error('poison record');
  const every = Number(process.env.SLOW_EVERY || 0);
  if (every && calls % every === 0) await new Promise((r) => setTimeout(r, Number(process.env.SLOW_MS || 5000)));
  if (process.env.DELAY_MS) await new Promise((r) => setTimeout(r, Number(process.env.DELAY_MS)));
  const large = Number(process.env.LARGE_EVERY || 0);
  const pad = (n) => (large && Number.isInteger(n) && n % large === 0 ? 'x'.repeat(70 * 1024 + ((n * 7919) % (830 * 1024))) : undefined);
  return event.map(({ payload }) => ({ payload: {
    timestamp: payload.timestamp, topic: payload.topic, partition: payload.partition, offset: payload.offset,
    result: { echo: payload.value, pad: pad(payload.value && payload.value.n) },
  } }));
};
