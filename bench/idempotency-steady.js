'use strict';
/**
 * Idempotency in steady state against DynamoDB Local: the real Dispatcher and DynamoDbRangeStore handle `events`
 * events of `perEvent` records on one partition, one after another, after `warmup` events that are not counted, as a
 * mapping sends a busy partition's batches. The target runs in process; with responses, a relay that accepts every
 * result stands for the broker (only DynamoDB is measured). Three shapes: no response topic; a response topic with
 * results of about 20 bytes; offsets with a gap between events (a transactional producer's markers), so ranges of
 * successive events cannot merge. A middleware counts the calls, the items written and the capacity units DynamoDB
 * Local reports (ReturnConsumedCapacity TOTAL), and the largest partition item seen; the figures are per million
 * records.
 */
const path = require('path');
const { DynamoDBClient, GetItemCommand } = require('@aws-sdk/client-dynamodb');
const { ROOT } = require('./common');
const { countingClient, createTable } = require('./idempotency');

function event(topic, first, perEvent, gap) {
  const records = [];
  for (let i = 0; i < perEvent; i++) {
    records.push({
      topic,
      partition: 0,
      offset: first + i,
      timestamp: 1763900000000 + first + i,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(`order-${first + i}`).toString('base64'),
      value: Buffer.from(JSON.stringify({ id: first + i })).toString('base64'),
      headers: [],
    });
  }
  return {
    event: { eventSource: 'SelfManagedKafka', bootstrapServers: '127.0.0.1:9092', records: { [`${topic}-0`]: records } },
    next: first + perEvent + gap,
  };
}

async function shape(te, env, name, { events, warmup, perEvent, responses, gap }) {
  const { Dispatcher, DynamoDbRangeStore, EmfMetrics, JsonLogger, inProcessInvoker } = require(
    path.join(ROOT, 'build', 'runtime', 'index.js'),
  );
  const { client, counter } = countingClient(te, env);
  const table = `bench-steady-${name}-${Date.now().toString(36)}`;
  await createTable(client, table);
  const relay = responses
    ? {
        responseTopic: 'responses',
        errorTopic: undefined,
        sendResponses: async () => undefined,
        sendErrors: async () => undefined,
      }
    : undefined;
  let ran = 0;
  const dispatcher = new Dispatcher({
    invoker: inProcessInvoker((records) => {
      ran += records.length;
      return records.map((r) => ({ ok: true, offset: r.offset }));
    }),
    store: new DynamoDbRangeStore({ tableName: table, client }),
    relay,
    logger: new JsonLogger({ write: () => undefined }),
    metrics: new EmfMetrics({ write: () => undefined }),
  });
  const context = { getRemainingTimeInMillis: () => 60_000 };
  // Reads the partition item to measure it, outside the counted client.
  const peek = new DynamoDBClient(te.awsClientConfig('dynamodb', env));
  let first = 0;
  let headBytes = 0;
  for (let i = 0; i < warmup + events; i++) {
    if (i === warmup) {
      counter.reset();
      ran = 0;
    }
    const e = event(table, first, perEvent, gap);
    first = e.next;
    const out = await dispatcher.handle(e.event, context);
    if (out.batchItemFailures.length > 0) throw new Error(`steady ${name}: event ${i} not processed`);
    if (i >= warmup) {
      const { Item } = await peek.send(new GetItemCommand({ TableName: table, Key: { id: { S: `${table}#0` } } }));
      headBytes = Math.max(headBytes, itemBytes(Item));
    }
  }
  peek.destroy();
  client.destroy();
  const records = events * perEvent;
  if (ran !== records) throw new Error(`steady ${name}: the target ran ${ran} of ${records} records`);
  const perMillion = (v) => Math.round((v * 1_000_000) / records);
  return {
    wcu: perMillion(counter.wcu),
    rcu: perMillion(counter.rcu),
    items: perMillion(counter.items),
    calls: perMillion(counter.calls),
    headBytes,
  };
}

/** An item's size as DynamoDB bills it: attribute names plus values. */
function itemBytes(item) {
  const value = (v) => {
    if (v.S !== undefined) return Buffer.byteLength(v.S);
    if (v.N !== undefined) return Math.ceil(v.N.replace(/^-/, '').replace(/^0+/, '').length / 2) + 1;
    if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
    if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((n, [k, x]) => n + 1 + Buffer.byteLength(k) + value(x), 0);
    return Buffer.byteLength(JSON.stringify(v));
  };
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + value(v), 0);
}

async function benchIdempotencySteady(te, env, { events, warmup, perEvent }, log) {
  const out = { events, records_per_event: perEvent };
  for (const [name, options] of [
    ['plain', { responses: false, gap: 0 }],
    ['responses', { responses: true, gap: 0 }],
    ['gaps', { responses: false, gap: 1 }],
  ]) {
    const r = await shape(te, env, name, { events, warmup, perEvent, ...options });
    log(
      `idempotency steady state, ${name}: per million records ${r.wcu} write units, ${r.rcu} read units, ${r.items} items written, ${r.calls} calls; partition item at most ${r.headBytes} B`,
    );
    Object.assign(out, {
      [`${name}_write_units_per_million`]: r.wcu,
      [`${name}_read_units_per_million`]: r.rcu,
      [`${name}_items_per_million`]: r.items,
      [`${name}_item_bytes`]: r.headBytes,
    });
  }
  return out;
}

module.exports = { benchIdempotencySteady, itemBytes };
