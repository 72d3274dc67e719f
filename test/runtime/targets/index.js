'use strict';
/**
 * Target functions for the integration tests, run under the Lambda emulator.
 * echo: answers the Confluent response format, result = { echo: value, key }; other formats: the input.
 * fail: throws (FunctionError Unhandled). slow: waits SLOW_MS, then echoes.
 * malformed: answers one entry less than the batch, with wrong offsets.
 * failOn: throws when a record's value has { fail: true }, else echoes.
 */
const echoEntries = (event) => (Array.isArray(event) && event.every((e) => e && e.payload)
  ? event.map(({ payload }) => ({ payload: { timestamp: payload.timestamp, topic: payload.topic, partition: payload.partition, offset: payload.offset, result: { echo: payload.value, key: payload.key } } }))
  : event);

exports.echo = async (event) => echoEntries(event);
exports.fail = async () => { throw new Error('target failed on purpose'); };
exports.slow = async (event) => { await new Promise((r) => setTimeout(r, Number(process.env.SLOW_MS || 3000))); return echoEntries(event); };
exports.malformed = async (event) => event.slice(1).map(({ payload }) => ({ payload: { ...payload, offset: payload.offset + 1000 } }));
exports.failOn = async (event) => {
  if (event.some(({ payload }) => payload.value && payload.value.fail === true)) throw new Error('record asked to fail');
  return echoEntries(event);
};
