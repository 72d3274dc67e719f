#!/usr/bin/env node
'use strict';
/**
 * npm run bench: measures the dispatcher path against its peers in the same run and writes
 * bench/results.json (the shape bench/shape.js checks), bench/machine.json (where and under what load it
 * ran) and bench/results.png (the chart). Starts Kafka and DynamoDB Local with testenv unless
 * CKL_TESTENV names a running environment. `npm run bench -- --quick` runs small record counts and
 * writes to bench/.out/ instead, for development. `--only decode` or `--only schemas` (no Kafka or DynamoDB Local)
 * or `--only idempotency` (DynamoDB Local only) or `--only cost` (DynamoDB Local and Lambda functions under the
 * emulator) or `--only redrive` (Kafka, DynamoDB Local, moto and the dispatcher under the emulator: redrive from the
 * error topic and from SQS beside the local mapping's delivery) measures that part alone and puts its section into the results.json
 * already there, keeping the other sections; machine.json then records that run under `reruns.<part>`.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile, spawnSync } = require('child_process');
const te = require('../testenv');
const { ROOT, median } = require('./common');
const { benchIdempotency } = require('./idempotency');
const { benchIdempotencySteady } = require('./idempotency-steady');
const { benchRelay } = require('./relay');
const { benchColdStart } = require('./cold-start');
const { benchSchemas } = require('./schemas');
const { benchCost } = require('./cost');
const { benchRedrive } = require('./redrive');
const { drawChart } = require('./chart');
const { RESULTS_SHAPE, resultsProblems } = require('./shape');
const { costTable, markdownTable, redriveTable } = require('./table');

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
if (only !== undefined && !['decode', 'schemas', 'idempotency', 'cost', 'redrive'].includes(only)) {
  process.stderr.write(
    `--only takes "decode" or "schemas" (no Kafka or DynamoDB Local), "idempotency" (DynamoDB Local only) or "cost" (DynamoDB Local and Lambda functions) or "redrive" (Kafka, DynamoDB Local, moto and Lambda functions), got ${JSON.stringify(only)}\n`,
  );
  process.exit(2);
}
const N = quick
  ? {
      decode: 2000,
      decodeRuns: 3,
      idempotency: 100,
      steady: { events: 30, warmup: 10, perEvent: 100 },
      relay: 5000,
      relayBytes: 1024,
      coldRuns: 5,
      schemas: { records: 2000, runs: 3, loadRuns: 5 },
      cost: { records: 500 },
      redrive: { records: 1000, runs: 1 },
    }
  : {
      decode: 10000,
      decodeRuns: 7,
      idempotency: 1000,
      steady: { events: 300, warmup: 50, perEvent: 100 },
      relay: 100000,
      relayBytes: 1024,
      coldRuns: 31,
      schemas: { records: 10000, runs: 7, loadRuns: 21 },
      cost: { records: 10000 },
      redrive: { records: 5000, runs: 5 },
    };
const outDir = quick ? path.join(__dirname, '.out') : __dirname;

const loads = [];
const log = (msg) => {
  const load = os.loadavg()[0];
  loads.push(load);
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)} load ${load.toFixed(2)}] ${msg}\n`);
};

function decodeOnce(impl, records) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(__dirname, 'decode-worker.js'), impl, String(records)], (err, stdout, stderr) => {
      if (err) return reject(new Error(`decode-worker ${impl}: ${stderr || err.message}`));
      resolve(JSON.parse(stdout).rps);
    });
  });
}

/** Each run is a fresh process; the three decoders take turns so they see the same load. */
async function benchDecode(records, runs) {
  const rps = { ours: [], powertools: [], floor: [] };
  for (let i = 0; i < runs; i++) {
    for (const impl of Object.keys(rps)) rps[impl].push(await decodeOnce(impl, records));
  }
  const r = {
    records,
    ours_rps: Math.round(median(rps.ours)),
    powertools_rps: Math.round(median(rps.powertools)),
    floor_rps: Math.round(median(rps.floor)),
  };
  log(`decode: ours ${r.ours_rps}, powertools ${r.powertools_rps}, floor ${r.floor_rps} records/s (median of ${runs} processes)`);
  return r;
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr; // java -version prints to stderr
  return {
    nproc: os.availableParallelism(),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    java: /version "([^"]+)"/.exec(java)?.[1] ?? 'unknown',
  };
}

const round2 = (v) => Math.round(v * 100) / 100;
const loadSummary = () => ({ min: Math.min(...loads), median: round2(median(loads)), max: Math.max(...loads) });

/** --only decode|schemas|idempotency|cost|redrive: that section of an earlier run's results.json replaced, the rest kept. */
async function partOnly(part) {
  const started = new Date().toISOString();
  const counts = {
    decode: { decode: N.decode, decodeRuns: N.decodeRuns },
    schemas: N.schemas,
    idempotency: { idempotency: N.idempotency, steady: N.steady },
    cost: N.cost,
    redrive: N.redrive,
  };
  log(`${quick ? 'quick' : 'full'} ${part}-only run: ${JSON.stringify(counts[part])}`);
  let sections;
  if (part === 'decode') {
    sections = { decode: await benchDecode(N.decode, N.decodeRuns) };
  } else if (part === 'schemas') {
    sections = { schemas: await benchSchemas(N.schemas, log) };
  } else if (part === 'cost') {
    const own = !process.env.CKL_TESTENV;
    const env = own ? await te.start({ services: ['dynamodb', 'lambdaFront'], ownerPid: process.pid }) : te.loadEnv();
    try {
      sections = { cost: await benchCost(te, env, N.cost, log) };
    } finally {
      if (own) await te.stop(env);
    }
  } else if (part === 'redrive') {
    const own = !process.env.CKL_TESTENV;
    const env = own
      ? await te.start({ services: ['kafka', 'dynamodb', 'moto', 'lambdaFront'], ownerPid: process.pid })
      : te.loadEnv();
    try {
      sections = { redrive: await benchRedrive(te, env, N.redrive, log) };
    } finally {
      if (own) await te.stop(env);
    }
  } else {
    const env = await te.start({ services: ['dynamodb'], ownerPid: process.pid });
    try {
      sections = {
        idempotency: await benchIdempotency(te, env, N.idempotency, log),
        idempotencySteady: await benchIdempotencySteady(te, env, N.steady, log),
      };
    } finally {
      await te.stop(env);
    }
  }
  const file = path.join(outDir, 'results.json');
  if (!fs.existsSync(file)) {
    process.stdout.write(
      `${JSON.stringify(sections, null, 2)}\n(no ${path.relative(ROOT, file)} to merge into: run the whole bench first)\n`,
    );
    return;
  }
  const merged = { ...JSON.parse(fs.readFileSync(file, 'utf8')), ...sections };
  const results = Object.fromEntries(
    Object.keys(RESULTS_SHAPE)
      .filter((k) => k in merged)
      .map((k) => [k, merged[k]]),
  );
  const problems = resultsProblems(results);
  if (problems.length > 0)
    throw new Error(`results do not have the issue's shape: ${problems.join('; ')}\n${JSON.stringify(results)}`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const machineFile = path.join(outDir, 'machine.json');
  const m = fs.existsSync(machineFile) ? JSON.parse(fs.readFileSync(machineFile, 'utf8')) : machine();
  m.reruns = {
    ...m.reruns,
    [part]: { node: process.version, started, finished: new Date().toISOString(), load_1min: loadSummary() },
  };
  fs.writeFileSync(machineFile, `${JSON.stringify(m, null, 2)}\n`);
  drawChart(file, path.join(outDir, 'results.png'));
  process.stdout.write(
    `${JSON.stringify(results, null, 2)}\n\n${markdownTable(results)}\n\n${costTable(results.cost)}\n\n${redriveTable(results.redrive)}\n`,
  );
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  if (only !== undefined) return partOnly(only);
  const started = new Date().toISOString();
  log(`${quick ? 'quick' : 'full'} run: ${JSON.stringify(N)}`);
  const coldStart = await benchColdStart(N.coldRuns, log);
  const decode = await benchDecode(N.decode, N.decodeRuns);
  const schemas = await benchSchemas(N.schemas, log);
  const own = !process.env.CKL_TESTENV;
  const env = own
    ? await te.start({ services: ['kafka', 'dynamodb', 'moto', 'lambdaFront'], ownerPid: process.pid })
    : te.loadEnv();
  try {
    const idempotency = await benchIdempotency(te, env, N.idempotency, log);
    const idempotencySteady = await benchIdempotencySteady(te, env, N.steady, log);
    const relay = await benchRelay(te, env, N.relay, N.relayBytes, log);
    const cost = await benchCost(te, env, N.cost, log);
    const redrive = await benchRedrive(te, env, N.redrive, log);
    const results = { decode, idempotency, idempotencySteady, relay, coldStart, schemas, cost, redrive };
    const problems = resultsProblems(results);
    if (problems.length > 0)
      throw new Error(`results do not have the issue's shape: ${problems.join('; ')}\n${JSON.stringify(results)}`);
    const file = path.join(outDir, 'results.json');
    fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    fs.writeFileSync(
      path.join(outDir, 'machine.json'),
      `${JSON.stringify(
        {
          ...machine(),
          kafka: env.versions.kafka,
          dynamodbLocal: env.versions.dynamodbLocal,
          started,
          finished: new Date().toISOString(),
          load_1min: loadSummary(),
        },
        null,
        2,
      )}\n`,
    );
    drawChart(file, path.join(outDir, 'results.png'));
    process.stdout.write(
      `${JSON.stringify(results, null, 2)}\n\n${markdownTable(results)}\n\n${costTable(results.cost)}\n\n${redriveTable(results.redrive)}\n`,
    );
  } finally {
    if (own) await te.stop(env);
  }
})().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
