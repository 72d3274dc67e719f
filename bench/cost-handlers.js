'use strict';
/**
 * The functions of the cost comparison (bench/cost.js), run under the Lambda emulator, each doing the same work for a
 * record: COST_WORK=sleep waits COST_SLEEP_MS_PER_RECORD ms per record (1 ms, or 10 ms: a second for a batch of 100),
 * in one wait per call of the user's code (it stands for I/O such as a downstream write of the records; Powertools
 * calls the code once per record, so it waits once per record, the same total); COST_WORK=cpu hashes the record's
 * value and then the digest COST_SHA256_ROUNDS times in all (SHA-256).
 * - bare: the mapping's event straight into the work, each topic-partition's records in one call, the partitions in
 *   parallel; no idempotency (the floor);
 * - target: the dispatcher's target, the Confluent payload format in and out;
 * - inProcess: inProcessHandler from the runtime layer (NODE_PATH), configured by CKL_DISPATCHER_CONFIG;
 * - powertools: Powertools' kafkaConsumer with makeIdempotent around each record (DynamoDB persistence layer, the key
 *   [topic, partition, offset]), records one after another as in bench/powertools-handler.js.
 * Pipelines are built on the first event, once per container, as a handler's module scope would build them.
 */
const { createHash } = require('crypto');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The user's work for one call: records of { topic, partition, offset, value } (value parsed JSON); one result each. */
async function work(records) {
  if (process.env.COST_WORK === 'sleep') {
    await sleep(records.length * Number(process.env.COST_SLEEP_MS_PER_RECORD));
  } else {
    const rounds = Number(process.env.COST_SHA256_ROUNDS);
    for (const r of records) {
      let digest = createHash('sha256').update(JSON.stringify(r.value)).digest();
      for (let i = 1; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
      r.digest = digest;
    }
  }
  return records.map((r) => ({ ok: true, offset: r.offset }));
}

exports.bare = async (event) => {
  await Promise.all(
    Object.values(event.records).map((group) =>
      work(
        group.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          value: JSON.parse(Buffer.from(r.value, 'base64').toString('utf8')),
        })),
      ),
    ),
  );
  return { batchItemFailures: [] };
};

exports.target = async (event) => {
  const results = await work(event.map(({ payload }) => payload));
  return event.map(({ payload }, i) => ({
    payload: {
      timestamp: payload.timestamp,
      topic: payload.topic,
      partition: payload.partition,
      offset: payload.offset,
      result: results[i],
    },
  }));
};

let inProcess;
exports.inProcess = (event, context) => {
  inProcess ??= require('cdk-kafka-lambda/runtime').inProcessHandler((records) => work(records));
  return inProcess(event, context);
};

let powertools;
exports.powertools = (event, context) => {
  powertools ??= powertoolsHandler();
  return powertools(event, context);
};

function powertoolsHandler() {
  const { kafkaConsumer } = require('@aws-lambda-powertools/kafka');
  const { IdempotencyConfig, makeIdempotent } = require('@aws-lambda-powertools/idempotency');
  const { DynamoDBPersistenceLayer } = require('@aws-lambda-powertools/idempotency/dynamodb');
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: process.env.IDEMPOTENCY_TABLE });
  const config = new IdempotencyConfig({ eventKeyJmesPath: '[topic, partition, offset]' });
  const processRecord = makeIdempotent(async (record) => (await work([record]))[0], { persistenceStore, config });
  return kafkaConsumer(
    async (event, context) => {
      config.registerLambdaContext(context);
      for (const record of event.records)
        await processRecord({ topic: record.topic, partition: record.partition, offset: record.offset, value: record.value });
      return { batchItemFailures: [] };
    },
    { value: { type: 'json' } },
  );
}
