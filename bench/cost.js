'use strict';
/**
 * Cost per million records: the same Kafka records and the same work through four paths, each function under the
 * official Lambda Runtime Interface Emulator (testenv's startLambda), invoked through the Lambda Invoke API as the
 * event source mapping invokes it, one SelfManagedKafka event at a time:
 * - bare: the mapping straight on a function that does the work, no idempotency (the floor);
 * - dispatcher: assets/dispatcher (idempotency in DynamoDB Local, the range store) invoking a target function that
 *   does the work: both functions' requests and GB-seconds count;
 * - in_process: the user's function with inProcessHandler (the runtime layer), idempotency the same way;
 * - powertools: kafkaConsumer and makeIdempotent per record with the DynamoDB persistence layer.
 * Three kinds of work (bench/cost-handlers.js): a wait per call of the user's code, proportional to its records, of
 * 1 ms a record (sleep) or 10 ms a record (sleep_1s: 1 s for a 100-record batch), and SHA-256 rounds per record (cpu).
 * Beside each path's figures, the section gives per event what each path bills over the bare function (in ms at the
 * work's memory) and what the bare function bills (the work): GB-s vs bare = 1 + overhead / work.
 *
 * Lambda: requests and billed GB-seconds from the emulator's REPORT lines (billed duration × the configured memory);
 * each function gets two events first that are not counted, so the figures are of warm invocations (no init).
 * DynamoDB: the functions reach DynamoDB Local through a proxy that asks every item call for its consumed capacity
 * (ReturnConsumedCapacity TOTAL) and sums the units in the answers. DynamoDB Local reports nothing for two kinds of
 * call, which the proxy computes the documented way: keys of a BatchGetItem that find no item (one read unit each,
 * strongly consistent; a half eventually consistent) and a write whose condition fails (one write unit: the items
 * here are under 1 KB). Dollars at PRICES.
 */
const fs = require('fs');
const http = require('http');
const path = require('path');
const { InvokeCommand, LambdaClient } = require('@aws-sdk/client-lambda');
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
const { ROOT, kafkaEvent } = require('./common');
const { createTable } = require('./idempotency');
const { costGoals, costPerEvent, perEventOf } = require('./shape');

/**
 * On-demand list prices, US East (N. Virginia), arm64 (the architecture KafkaDispatcher's function runs on):
 * - Lambda: $0.20 per 1M requests, $0.0000133334 per GB-second for arm64 (x86: $0.0000166667), first pricing tier
 *   (https://aws.amazon.com/lambda/pricing/);
 * - DynamoDB on-demand: $0.625 per million write request units, $0.125 per million read request units
 *   (https://aws.amazon.com/dynamodb/pricing/on-demand/).
 * Read 2026-12-07. The pricing pages render their tables in the browser, so their stored text did not show the
 * figures: these are the us-east-1 figures as third-party copies of the pages give them (cloudchipr.com's Lambda
 * pricing guide for both architectures' tiers; airbyte.com's DynamoDB pricing page for on-demand).
 */
const PRICES = {
  read: '2026-12-07',
  region: 'us-east-1',
  architecture: 'arm64',
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000133334,
  dynamodbPerMillionWriteUnits: 0.625,
  dynamodbPerMillionReadUnits: 0.125,
  sources: ['https://aws.amazon.com/lambda/pricing/', 'https://aws.amazon.com/dynamodb/pricing/on-demand/'],
};

const PATHS = ['bare', 'dispatcher', 'in_process', 'powertools'];
/** The kinds of work: COST_WORK of the handlers, and for a wait its milliseconds per record. */
const WORKS = {
  sleep: { kind: 'sleep', sleepMsPerRecord: 1 },
  cpu: { kind: 'cpu' },
  sleep_1s: { kind: 'sleep', sleepMsPerRecord: 10 },
};
/** Memory of every function that runs the user's work; the dispatcher's is the construct's default. */
const MEMORY_MB = 1024;
const DISPATCHER_MEMORY_MB = 512;
const RECORDS_PER_EVENT = 100;
/** Two partitions: the dispatcher's two target invocations of an event run in parallel on the machine's two cores. */
const PARTITIONS = 2;
const SHA256_ROUNDS = 200;
const WARMUP_EVENTS = 2;

const ITEM_OPS = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchGetItem', 'BatchWriteItem', 'Query'];

/**
 * An HTTP proxy in front of DynamoDB Local that adds ReturnConsumedCapacity TOTAL to each item call and sums the units
 * of the answers (DynamoDB Local does not check request signatures, so the changed body passes).
 */
async function capacityProxy(upstream) {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  const counter = {
    calls: 0,
    writeUnits: 0,
    readUnits: 0,
    computedReadUnits: 0,
    failedConditions: 0,
    items: 0,
    busyMs: 0,
    callMs: 0,
  };
  // Time with at least one call outstanding (calls of parallel partitions overlap), and the calls' own times summed.
  let outstanding = 0;
  let busySince = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const sent = performance.now();
      if (outstanding++ === 0) busySince = sent;
      const op = String(req.headers['x-amz-target'] ?? '').split('.')[1];
      let body = Buffer.concat(chunks);
      let input;
      if (ITEM_OPS.includes(op)) {
        input = JSON.parse(body.toString('utf8'));
        body = Buffer.from(JSON.stringify({ ...input, ReturnConsumedCapacity: 'TOTAL' }));
      }
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          agent,
          headers: { ...req.headers, host: target.host, 'content-length': body.length },
        },
        (upRes) => {
          const out = [];
          upRes.on('data', (c) => out.push(c));
          upRes.on('end', () => {
            const answer = Buffer.concat(out);
            const now = performance.now();
            counter.callMs += now - sent;
            if (--outstanding === 0) counter.busyMs += now - busySince;
            if (input) count(counter, op, input, upRes.statusCode, answer);
            res.writeHead(upRes.statusCode, upRes.headers);
            res.end(answer);
          });
        },
      );
      up.on('error', (e) => {
        if (--outstanding === 0) counter.busyMs += performance.now() - busySince;
        res.writeHead(502);
        res.end(String(e));
      });
      up.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    counter,
    snapshot: () => ({ ...counter }),
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve), agent.destroy())),
  };
}

function count(counter, op, input, status, answer) {
  counter.calls++;
  const isWrite = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'].includes(op);
  if (status !== 200) {
    if (isWrite && answer.toString('utf8').includes('ConditionalCheckFailedException')) {
      counter.failedConditions++;
      counter.writeUnits += 1;
    }
    return;
  }
  const out = JSON.parse(answer.toString('utf8'));
  const units = [out.ConsumedCapacity ?? []].flat().reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
  if (isWrite) {
    counter.writeUnits += units;
    counter.items += op === 'BatchWriteItem' ? Object.values(input.RequestItems).reduce((n, rs) => n + rs.length, 0) : 1;
    return;
  }
  counter.readUnits += units;
  if (op === 'BatchGetItem') {
    for (const [table, request] of Object.entries(input.RequestItems)) {
      const found = out.Responses?.[table]?.length ?? 0;
      const unprocessed = out.UnprocessedKeys?.[table]?.Keys?.length ?? 0;
      const missing = request.Keys.length - found - unprocessed;
      const perKey = request.ConsistentRead ? 1 : 0.5;
      counter.readUnits += missing * perKey;
      counter.computedReadUnits += missing * perKey;
    }
  }
}

/** The REPORT lines of a function's emulator logs from the given byte offsets on. */
function reports(files, from) {
  const out = [];
  for (const file of files) {
    const text = fs
      .readFileSync(file)
      .subarray(from.get(file) ?? 0)
      .toString('utf8');
    for (const m of text.matchAll(/^REPORT RequestId: \S+\t.*?Billed Duration: (\d+) ms\tMemory Size: (\d+) MB/gm))
      out.push({ billedMs: Number(m[1]), memoryMb: Number(m[2]) });
  }
  return out;
}

const logFiles = (fn, instances) =>
  Array.from({ length: instances }, (_, i) =>
    i === 0 ? fn.logFile : path.join(path.dirname(fn.logFile), `lambda-${fn.name}@${i}.log`),
  );

/** The measured events: `events` of RECORDS_PER_EVENT records on PARTITIONS partitions, offsets going on from event to event. */
function events(topic, count, firstEvent) {
  const perPartition = RECORDS_PER_EVENT / PARTITIONS;
  return Array.from({ length: count }, (_, k) => {
    const e = kafkaEvent(RECORDS_PER_EVENT, { topic, partitions: PARTITIONS });
    for (const group of Object.values(e.records)) for (const r of group) r.offset += (firstEvent + k) * perPartition;
    return e;
  });
}

async function invoke(lambda, name, event) {
  const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  const answer = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
  if (out.FunctionError) throw new Error(`${name} failed: ${answer}`);
  const failures = JSON.parse(answer)?.batchItemFailures ?? [];
  if (failures.length > 0) throw new Error(`${name} asked to retry ${JSON.stringify(failures)}`);
}

/** Resolves once the files hold `expected` REPORT lines after the offsets (the emulator writes them after answering). */
async function settledReports(files, from, expected) {
  const until = Date.now() + 10_000;
  for (;;) {
    const r = reports(files, from);
    if (r.length >= expected) return r;
    if (Date.now() > until) throw new Error(`${r.length} of ${expected} REPORT lines in ${files.join(', ')}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** One path with one kind of work: its functions started, warmed up, then `records` records measured. */
async function measure(te, env, proxy, lambda, ddb, { pathName, workName, records, id }) {
  const dir = __dirname;
  const slug = (v) => v.replace(/_/g, '-');
  const name = (role) => `cost-${slug(pathName)}-${slug(workName)}-${role}-${id}`;
  const work = WORKS[workName];
  const workEnv = {
    COST_WORK: work.kind,
    COST_SLEEP_MS_PER_RECORD: String(work.sleepMsPerRecord ?? 0),
    COST_SHA256_ROUNDS: String(SHA256_ROUNDS),
    AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
  };
  const table = `cost-${slug(pathName)}-${slug(workName)}-${id}`;
  if (pathName !== 'bare') await createTable(ddb, table);
  const { DEFAULTS } = require(path.join(ROOT, 'build', 'contract', 'dispatcher-config.js'));
  const config = (target) => ({
    version: 2,
    target: {
      invocationType: 'RequestResponse',
      payloadFormat: 'confluent',
      recordsPerInvocation: DEFAULTS.recordsPerInvocation,
      concurrency: DEFAULTS.concurrency,
      maxAttempts: DEFAULTS.maxAttempts,
      baseDelayMs: DEFAULTS.baseDelayMs,
      maxDelayMs: DEFAULTS.maxDelayMs,
      timeoutMs: 30_000,
      ...target,
    },
    onError: 'fail',
    reportBatchItemFailures: false,
    timeMarginMs: 1_000,
    idempotency: {
      tableName: table,
      mode: 'batched',
      ttlSeconds: DEFAULTS.ttlSeconds,
      maxStoredResultBytes: DEFAULTS.maxStoredResultBytes,
    },
  });
  const fns = [];
  const start = async (role, handler, memoryMb, extraEnv, concurrency = 1) => {
    const fn = await te.startLambda(
      {
        name: name(role),
        dir,
        handler: `cost-handlers.${handler}`,
        env: { ...workEnv, ...extraEnv },
        timeoutSeconds: 30,
        memoryMb,
        concurrency,
      },
      env,
    );
    fns.push({ fn, files: logFiles(fn, concurrency), memoryMb });
    return fn;
  };
  try {
    let entry;
    let target;
    if (pathName === 'bare') entry = await start('fn', 'bare', MEMORY_MB, {});
    if (pathName === 'dispatcher') {
      target = await start('target', 'target', MEMORY_MB, {}, PARTITIONS);
      entry = await te.startLambda(
        {
          name: name('dispatcher'),
          dir: path.join(ROOT, 'assets', 'dispatcher'),
          env: {
            AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
            CKL_DISPATCHER_CONFIG: JSON.stringify(config({ functionName: target.name })),
          },
          timeoutSeconds: 60,
          memoryMb: DISPATCHER_MEMORY_MB,
        },
        env,
      );
      fns.push({ fn: entry, files: [entry.logFile], memoryMb: DISPATCHER_MEMORY_MB });
    }
    if (pathName === 'in_process')
      entry = await start('fn', 'inProcess', MEMORY_MB, {
        NODE_PATH: path.join(ROOT, 'assets', 'runtime-layer', 'nodejs', 'node_modules'),
        CKL_DISPATCHER_CONFIG: JSON.stringify(config({ inProcess: true })),
      });
    if (pathName === 'powertools') entry = await start('fn', 'powertools', MEMORY_MB, { IDEMPOTENCY_TABLE: table });

    const topic = `cost-${slug(workName)}-${id}`;
    for (const e of events(topic, WARMUP_EVENTS, 0)) await invoke(lambda, entry.name, e);
    const warmTargetCalls = target ? (await te.listInvocations(target.name, env)).length : 0;
    const offsets = new Map(fns.flatMap(({ files }) => files.map((f) => [f, fs.statSync(f).size])));
    const before = proxy.snapshot();
    const measured = events(topic, records / RECORDS_PER_EVENT, WARMUP_EVENTS);
    const started = process.hrtime.bigint();
    for (const e of measured) await invoke(lambda, entry.name, e);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const after = proxy.snapshot();

    let targetRecords = 0;
    let targetCalls = 0;
    if (target) {
      const calls = (await te.listInvocations(target.name, env)).slice(warmTargetCalls);
      targetCalls = calls.length;
      targetRecords = calls.reduce((n, c) => n + JSON.parse(c.payload).length, 0);
      if (targetRecords !== records) throw new Error(`dispatcher: the target got ${targetRecords} of ${records} records`);
    }
    let requests = 0;
    let gbSeconds = 0;
    let entryGbSeconds = 0;
    let entryBilledMs = 0;
    for (const { fn, files, memoryMb } of fns) {
      const r = await settledReports(files, offsets, fn === target ? targetCalls : measured.length);
      for (const { memoryMb: reported } of r)
        if (reported !== memoryMb) throw new Error(`${fn.name}: REPORT says ${reported} MB, configured ${memoryMb} MB`);
      const gbs = r.reduce((n, x) => n + (x.billedMs / 1000) * (memoryMb / 1024), 0);
      requests += r.length;
      gbSeconds += gbs;
      if (fn === entry) {
        entryGbSeconds = gbs;
        entryBilledMs = r.reduce((n, x) => n + x.billedMs, 0);
      }
    }
    const delta = (k) => after[k] - before[k];
    return {
      records,
      ms,
      requests,
      gbSeconds,
      entryGbSeconds,
      writeUnits: delta('writeUnits'),
      readUnits: delta('readUnits'),
      computedReadUnits: delta('computedReadUnits'),
      failedConditions: delta('failedConditions'),
      items: delta('items'),
      ddbCalls: delta('calls'),
      ddbBusyMs: delta('busyMs'),
      ddbCallMs: delta('callMs'),
      entryBilledMs: entryBilledMs,
    };
  } finally {
    await Promise.all(fns.map(({ fn }) => fn.stop()));
  }
}

/** Dollars per million records of one path's per-million figures. */
function dollars(p) {
  return (
    (p.requests_per_million / 1e6) * PRICES.lambdaPerMillionRequests +
    p.gb_seconds_per_million * PRICES.lambdaPerGbSecond +
    (p.write_units_per_million / 1e6) * PRICES.dynamodbPerMillionWriteUnits +
    (p.read_units_per_million / 1e6) * PRICES.dynamodbPerMillionReadUnits
  );
}

const round = (v, digits) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Per-million figures of a measurement, with the fields the results shape names for its path. */
function perMillion(pathName, m) {
  const f = 1_000_000 / m.records;
  const p = { requests_per_million: Math.round(m.requests * f), gb_seconds_per_million: round(m.gbSeconds * f, 1) };
  if (pathName === 'dispatcher') p.dispatcher_gb_seconds_per_million = round(m.entryGbSeconds * f, 1);
  p.write_units_per_million = Math.round(m.writeUnits * f);
  p.read_units_per_million = Math.round(m.readUnits * f);
  if (pathName !== 'bare') p.dynamodb_busy_ms_per_event = round(m.ddbBusyMs / (m.records / RECORDS_PER_EVENT), 1);
  p.dollars_per_million = round(dollars(p), 4);
  return p;
}

/**
 * Each kind of work in turn, the four paths alternating (bare, dispatcher, in-process, Powertools, then the next
 * kind in reverse order, and so on) so each pair sees about the same load.
 */
async function benchCost(te, env, { records }, log) {
  if (records % RECORDS_PER_EVENT !== 0) throw new Error(`records must be a multiple of ${RECORDS_PER_EVENT}`);
  for (const asset of [path.join(ROOT, 'assets', 'dispatcher', 'index.js'), path.join(ROOT, 'assets', 'runtime-layer')])
    if (!fs.existsSync(asset)) throw new Error(`${asset} is missing: run npm run build first`);
  const proxy = await capacityProxy(env.dynamodb.endpoint);
  const lambda = new LambdaClient(te.awsClientConfig('lambda', env));
  const ddb = new DynamoDBClient(te.awsClientConfig('dynamodb', env));
  const id = Date.now().toString(36);
  const out = {
    records,
    records_per_event: RECORDS_PER_EVENT,
    partitions: PARTITIONS,
    memory_mb: MEMORY_MB,
    dispatcher_memory_mb: DISPATCHER_MEMORY_MB,
    sleep_ms_per_record: WORKS.sleep.sleepMsPerRecord,
    sleep_1s_ms_per_record: WORKS.sleep_1s.sleepMsPerRecord,
    sha256_rounds_per_record: SHA256_ROUNDS,
    prices: {
      lambda_per_million_requests: PRICES.lambdaPerMillionRequests,
      lambda_per_gb_second: PRICES.lambdaPerGbSecond,
      dynamodb_per_million_write_units: PRICES.dynamodbPerMillionWriteUnits,
      dynamodb_per_million_read_units: PRICES.dynamodbPerMillionReadUnits,
    },
  };
  const loads = [];
  try {
    for (const [w, workName] of Object.keys(WORKS).entries()) {
      out[workName] = {};
      for (const pathName of w % 2 === 0 ? PATHS : [...PATHS].reverse()) {
        loads.push(require('os').loadavg()[0]);
        const m = await measure(te, env, proxy, lambda, ddb, { pathName, workName, records, id });
        out[workName][pathName] = perMillion(pathName, m);
        const perEvent = (v) => (v / (m.records / RECORDS_PER_EVENT)).toFixed(1);
        log(
          `cost ${workName} ${pathName}: ${m.records} records in ${Math.round(m.ms)} ms; ${m.requests} requests, ${m.gbSeconds.toFixed(2)} GB-s` +
            `; per event: ${perEvent(m.entryBilledMs)} ms billed (the invoked function), DynamoDB busy ${perEvent(m.ddbBusyMs)} ms, calls ${perEvent(m.ddbCallMs)} ms in all` +
            `${pathName === 'dispatcher' ? ` (dispatcher ${m.entryGbSeconds.toFixed(2)})` : ''}; DynamoDB ${m.ddbCalls} calls, ${m.items} items written, ` +
            `${m.writeUnits} write units, ${m.readUnits} read units (${m.computedReadUnits} computed for keys not found), ${m.failedConditions} failed conditions` +
            ` -> ${JSON.stringify(out[workName][pathName])}`,
        );
      }
      out[workName] = Object.fromEntries(PATHS.map((p) => [p, out[workName][p]]));
      log(`cost ${workName} per event: ${JSON.stringify(perEventOf(out, out[workName]))}`);
    }
  } finally {
    lambda.destroy();
    ddb.destroy();
    await proxy.close();
  }
  loads.push(require('os').loadavg()[0]);
  const sorted = [...loads].sort((a, b) => a - b);
  out.load_1min = { min: round(sorted[0], 2), median: round(sorted[sorted.length >> 1], 2), max: round(sorted.at(-1), 2) };
  out.per_event = costPerEvent(out);
  out.goals = costGoals(out);
  return out;
}

module.exports = { benchCost, capacityProxy, measure, PRICES, WORKS };
