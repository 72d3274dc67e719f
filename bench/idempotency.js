'use strict';
/**
 * Idempotency against DynamoDB Local: `records` new records through the store the dispatcher uses for coordinate
 * keys (DynamoDbRangeStore: open the event, complete each target invocation of 100 records with its results, close)
 * vs Powertools' makeIdempotent + DynamoDBPersistenceLayer called for each record in turn, as a handler's loop over
 * its records does. A middleware on each client counts the DynamoDB calls, the items they write and the write
 * capacity units DynamoDB Local reports for them (ReturnConsumedCapacity TOTAL; it reports no units for reads of
 * items that do not exist, so read units are not measured here).
 */
const path = require('path');
const { CreateTableCommand, DynamoDBClient, waitUntilTableExists } = require('@aws-sdk/client-dynamodb');
const { ROOT, kafkaEvent } = require('./common');

/** Items a write command writes. */
function itemsWritten(name, input) {
  if (['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand'].includes(name)) return 1;
  if (name === 'BatchWriteItemCommand') return Object.values(input.RequestItems).reduce((a, rs) => a + rs.length, 0);
  return 0;
}
const ITEM_COMMANDS = [
  'GetItemCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchGetItemCommand',
  'BatchWriteItemCommand',
];

function countingClient(te, env) {
  const client = new DynamoDBClient(te.awsClientConfig('dynamodb', env));
  const counter = { calls: 0, items: 0, wcu: 0, rcu: 0 };
  counter.reset = () => Object.assign(counter, { calls: 0, items: 0, wcu: 0, rcu: 0 });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!ITEM_COMMANDS.includes(context.commandName)) return next(args);
      counter.calls++;
      counter.items += itemsWritten(context.commandName, args.input);
      const out = await next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } });
      for (const c of [out.output.ConsumedCapacity ?? []].flat()) {
        if (itemsWritten(context.commandName, args.input) > 0) counter.wcu += c.WriteCapacityUnits ?? c.CapacityUnits ?? 0;
        else counter.rcu += c.ReadCapacityUnits ?? c.CapacityUnits ?? 0;
      }
      return out;
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
  return { client, counter };
}

/** Records a dispatcher sends to its target in one invocation. */
const RECORDS_PER_INVOCATION = 100;

async function createTable(client, name) {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: name });
}

async function ours(te, env, records, table) {
  const { DynamoDbRangeStore, coordinatesKey } = require(path.join(ROOT, 'build', 'runtime', 'index.js'));
  const { decodeEvent } = require(path.join(ROOT, 'build', 'runtime', 'dispatcher', 'source.js'));
  const { client, counter } = countingClient(te, env);
  await createTable(client, table);
  const decoded = decodeEvent(kafkaEvent(records, { topic: table }));
  const store = new DynamoDbRangeStore({ tableName: table, client });
  const entries = decoded.map((record) => ({ key: coordinatesKey(record), record }));
  counter.reset();
  const start = process.hrtime.bigint();
  const session = await store.open(entries, Date.now() + 900_000);
  const fresh = entries.filter((e) => !session.done.has(e.key));
  // What the dispatcher does: per partition, one completion per target invocation, with each record's result.
  const byPartition = new Map();
  for (const e of fresh) byPartition.set(e.record.partition, [...(byPartition.get(e.record.partition) ?? []), e]);
  await Promise.all(
    [...byPartition.values()].map(async (es) => {
      for (let i = 0; i < es.length; i += RECORDS_PER_INVOCATION) {
        await session.complete(
          es.slice(i, i + RECORDS_PER_INVOCATION).map((e) => ({ ...e, outcome: 'responded', result: { ok: true } })),
        );
      }
    }),
  );
  await session.close();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const measured = { calls: counter.calls, items: counter.items, wcu: counter.wcu, ms };
  if (fresh.length !== records) throw new Error(`ours: ${fresh.length} of ${records} records were new`);
  const check = await store.open(entries, Date.now() + 900_000);
  await check.close();
  if (check.done.size !== records) throw new Error(`ours: ${check.done.size} of ${records} records stored as done`);
  return measured;
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
  const processRecord = makeIdempotent(
    async (record) => {
      invoked++;
      return { ok: true, offset: record.offset };
    },
    { persistenceStore, config },
  );
  const event = kafkaEvent(records, { topic: table });
  const raw = Object.values(event.records).flat();
  counter.reset();
  const start = process.hrtime.bigint();
  for (const record of raw) await processRecord(record);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (invoked !== records) throw new Error(`powertools: ${invoked} of ${records} records processed`);
  return { calls: counter.calls, items: counter.items, wcu: counter.wcu, ms };
}

/** Two rounds, ours-peer then peer-ours, each on fresh tables, so both see the same load; wall times averaged. */
async function benchIdempotency(te, env, records, log) {
  const o = [];
  const p = [];
  for (let round = 0; round < 2; round++) {
    const id = `${Date.now().toString(36)}-${round}`;
    const runOurs = async () => o.push(await ours(te, env, records, `bench-ours-${id}`));
    const runPeer = async () => p.push(await powertools(te, env, records, `bench-pt-${id}`));
    if (round === 0) {
      await runOurs();
      await runPeer();
    } else {
      await runPeer();
      await runOurs();
    }
    const line = (r) => `${r.calls} calls ${r.items} items ${r.wcu} WCU ${r.ms.toFixed(0)} ms`;
    log(`idempotency round ${round + 1}: ours ${line(o[round])}; powertools ${line(p[round])}`);
  }
  const mean = (xs) => xs.reduce((a, b) => a + b.ms, 0) / xs.length;
  return {
    records,
    ours_calls: o[0].calls,
    powertools_calls: p[0].calls,
    ours_items_written: o[0].items,
    powertools_items_written: p[0].items,
    ours_write_units: round1(o[0].wcu),
    powertools_write_units: round1(p[0].wcu),
    ours_ms: round1(mean(o)),
    powertools_ms: round1(mean(p)),
  };
}

const round1 = (x) => Math.round(x * 10) / 10;

module.exports = { benchIdempotency, countingClient, createTable };
