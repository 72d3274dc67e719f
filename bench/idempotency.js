'use strict';
/**
 * Idempotency against DynamoDB Local: `records` new records through our store's batched path
 * (getCompleted, then complete) vs Powertools' makeIdempotent + DynamoDBPersistenceLayer called for
 * each record in turn, as a handler's loop over its records does. Every DynamoDB command is counted
 * by a middleware on each client.
 */
const path = require('path');
const { CreateTableCommand, DynamoDBClient, waitUntilTableExists } = require('@aws-sdk/client-dynamodb');
const { ROOT, kafkaEvent } = require('./common');

function countingClient(te, env) {
  const client = new DynamoDBClient(te.awsClientConfig('dynamodb', env));
  const counter = { calls: 0 };
  client.middlewareStack.add((next) => (args) => {
    counter.calls++;
    return next(args);
  }, { step: 'initialize', name: 'benchCallCounter' });
  return { client, counter };
}

async function createTable(client, name) {
  await client.send(new CreateTableCommand({
    TableName: name,
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: name });
}

async function ours(te, env, records, table) {
  const { DynamoDbIdempotencyStore, coordinatesKey } = require(path.join(ROOT, 'runtime', 'idempotency.js'));
  const { decodeEvent } = require(path.join(ROOT, 'runtime', 'source.js'));
  const { client, counter } = countingClient(te, env);
  await createTable(client, table);
  const decoded = decodeEvent(kafkaEvent(records, { topic: table }));
  const store = new DynamoDbIdempotencyStore({ tableName: table, client });
  counter.calls = 0;
  const start = process.hrtime.bigint();
  const keys = decoded.map(coordinatesKey);
  const done = await store.getCompleted(keys);
  const fresh = decoded.filter((_, i) => !done.has(keys[i]));
  // What the dispatcher does for a batch the target answered: one completion per record, with its result.
  await store.complete(fresh.map((record) => ({ key: coordinatesKey(record), record, outcome: 'responded', result: { ok: true } })));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const calls = counter.calls;
  if (fresh.length !== records) throw new Error(`ours: ${fresh.length} of ${records} records were new`);
  const check = await store.getCompleted(keys);
  if (check.size !== records) throw new Error(`ours: ${check.size} of ${records} records stored as done`);
  return { calls, ms };
}

async function powertools(te, env, records, table) {
  const { makeIdempotent, IdempotencyConfig } = require('@aws-lambda-powertools/idempotency');
  const { DynamoDBPersistenceLayer } = require('@aws-lambda-powertools/idempotency/dynamodb');
  const { client, counter } = countingClient(te, env);
  await createTable(client, table);
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: table, awsSdkV3Client: client });
  let invoked = 0;
  const config = new IdempotencyConfig({ eventKeyJmesPath: '[topic, partition, offset]' });
  // A handler registers its Lambda context so in-progress records expire with the invocation.
  config.registerLambdaContext({ getRemainingTimeInMillis: () => 900_000 });
  const processRecord = makeIdempotent(async (record) => {
    invoked++;
    return { ok: true, offset: record.offset };
  }, { persistenceStore, config });
  const event = kafkaEvent(records, { topic: table });
  const raw = Object.values(event.records).flat();
  counter.calls = 0;
  const start = process.hrtime.bigint();
  for (const record of raw) await processRecord(record);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (invoked !== records) throw new Error(`powertools: ${invoked} of ${records} records processed`);
  return { calls: counter.calls, ms };
}

/** Two rounds, ours-peer then peer-ours, each on fresh tables, so both see the same load; wall times averaged. */
async function benchIdempotency(te, env, records, log) {
  const o = [];
  const p = [];
  for (let round = 0; round < 2; round++) {
    const id = `${Date.now().toString(36)}-${round}`;
    const runOurs = async () => o.push(await ours(te, env, records, `bench-ours-${id}`));
    const runPeer = async () => p.push(await powertools(te, env, records, `bench-pt-${id}`));
    if (round === 0) { await runOurs(); await runPeer(); } else { await runPeer(); await runOurs(); }
    log(`idempotency round ${round + 1}: ours ${o[round].calls} calls ${o[round].ms.toFixed(0)} ms; powertools ${p[round].calls} calls ${p[round].ms.toFixed(0)} ms`);
  }
  const mean = (xs) => xs.reduce((a, b) => a + b.ms, 0) / xs.length;
  return { records, ours_calls: o[0].calls, powertools_calls: p[0].calls, ours_ms: round1(mean(o)), powertools_ms: round1(mean(p)) };
}

const round1 = (x) => Math.round(x * 10) / 10;

module.exports = { benchIdempotency };
