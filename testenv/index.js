'use strict';
/**
 * Test environment for cdk-kafka-lambda: starts the real stand-ins (Apache Kafka, DynamoDB Local,
 * moto, Lambda RIE behind a Lambda API front) on free loopback ports, each detached with a pidfile
 * and log in a per-run dir, and describes them in <runDir>/env.json. Any process (jest worker,
 * script) finds env.json through CKL_TESTENV and can stop/start services or add Lambda functions.
 */
const fs = require('node:fs');
const path = require('node:path');
const { TESTENV_DIR, log, freePort, spawnDetached, killPidfile, isAlive, waitFor, tcpOpen, httpRequest } = require('./lib/util');
const install = require('./lib/install');
const { generateCerts } = require('./lib/certs');
const { prepareKafka, kafkaReady, partitionsLed, kafkaClientConfig, setScramPassword: setScram } = require('./lib/kafka');

/** Where runs live; git-ignored. CKL_RUN_ROOT moves it (e.g. to a tmpfs). */
const RUN_ROOT = process.env.CKL_RUN_ROOT || path.join(TESTENV_DIR, '.run');
const REGION = 'us-east-1';
/** Fake credentials; DynamoDB Local wants alphanumeric keys, moto accepts anything. */
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };

const secs = (t) => `${((Date.now() - t) / 1000).toFixed(1)}s`;

function envFile(runDirOrEnv) {
  if (!runDirOrEnv) {
    if (!process.env.CKL_TESTENV)
      throw new Error(
        'CKL_TESTENV is not set: start the test environment first (node testenv/control.js start, or jest globalSetup)',
      );
    return process.env.CKL_TESTENV;
  }
  if (typeof runDirOrEnv === 'object') return runDirOrEnv.file;
  return runDirOrEnv.endsWith('.json') ? runDirOrEnv : path.join(runDirOrEnv, 'env.json');
}

/** Read env.json (default: the file named by CKL_TESTENV). */
function loadEnv(runDirOrFile) {
  return JSON.parse(fs.readFileSync(envFile(runDirOrFile), 'utf8'));
}

/** Atomic write so concurrent readers never see half a file. */
function saveEnv(env) {
  const tmp = `${env.file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(env, null, 2));
  fs.renameSync(tmp, env.file);
}

/** Readiness probes per service kind. */
async function isReady(env, name) {
  const svc = env.services[name];
  switch (svc.ready.kind) {
    case 'kafka':
      return kafkaReady(env);
    case 'dynamodb': {
      // Raw ListTables call: DynamoDB Local checks the credential format, not the signature, and
      // keeping the AWS SDK out of the jest main process avoids its start-up cost and warnings.
      const r = await httpRequest({
        port: env.dynamodb.port,
        method: 'POST',
        path: '/',
        body: '{}',
        timeoutMs: 2000,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          authorization: `AWS4-HMAC-SHA256 Credential=${env.credentials.accessKeyId}/20200101/${env.region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
        },
      });
      return r.status === 200 && 'TableNames' in JSON.parse(r.body);
    }
    case 'http': {
      const r = await httpRequest({ port: svc.ready.port, path: svc.ready.path, timeoutMs: 2000 });
      return r.status < 500;
    }
    default:
      return tcpOpen(svc.ready.port);
  }
}

/** Spawn a service from its recorded spec and wait until it answers. */
async function launch(env, name, { timeoutMs = 180000 } = {}) {
  const svc = env.services[name];
  const t = Date.now();
  log(`starting ${name}`);
  const proc = spawnDetached(name, svc.cmd, svc.args, { cwd: svc.cwd, env: svc.env, runDir: env.runDir });
  svc.pid = proc.pid;
  svc.logFile = proc.logFile;
  await waitFor(name, () => isReady(env, name), { timeoutMs, proc, intervalMs: 300 });
  log(`${name} ready in ${secs(t)} (pid ${proc.pid})`);
}

/** Remove old runs whose processes are all gone (killed jest, crashed CI step). */
function pruneStaleRuns() {
  let dirs;
  try {
    dirs = fs.readdirSync(RUN_ROOT);
  } catch {
    return;
  }
  for (const d of dirs) {
    const dir = path.join(RUN_ROOT, d);
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs < 24 * 3600 * 1000) continue;
      const pids = fs.existsSync(path.join(dir, 'pids')) ? fs.readdirSync(path.join(dir, 'pids')) : [];
      const alive = pids.some((p) => isAlive(Number(fs.readFileSync(path.join(dir, 'pids', p), 'utf8'))));
      if (!alive) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* another process is pruning */
    }
  }
}

/**
 * Start every stand-in. opts: { runDir?, kafkaVersion?, ownerPid? (a watchdog stops the run when
 * that process dies), services? (subset of ['kafka','dynamodb','moto','lambdaFront']) }.
 * Resolves to the env object (also written to <runDir>/env.json, path in env.file).
 */
async function start(opts = {}) {
  const t0 = Date.now();
  pruneStaleRuns();
  const id = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${process.pid}`;
  const runDir = path.resolve(opts.runDir || path.join(RUN_ROOT, id));
  fs.mkdirSync(runDir, { recursive: true });
  const wanted = new Set(opts.services || ['kafka', 'dynamodb', 'moto', 'lambdaFront']);
  log(`run dir ${runDir}; cache ${require('./lib/util').cacheDir()}`);

  const kafkaVersion = opts.kafkaVersion || install.VERSIONS.kafka;
  const [kafkaInst, ddbInst, motoInst, glueSerde, rie, ric, certs, ddbPort, motoPort, frontPort] = await Promise.all([
    wanted.has('kafka') ? install.ensureKafka(kafkaVersion) : null,
    wanted.has('dynamodb') ? install.ensureDynamoDbLocal() : null,
    wanted.has('moto') ? install.ensureMoto() : null,
    // The Glue SerDe serializes against moto's Glue API.
    wanted.has('moto') ? install.ensureGlueSerde() : null,
    wanted.has('lambdaFront') ? install.ensureRie() : null,
    wanted.has('lambdaFront') ? install.ensureRic() : null,
    generateCerts(path.join(runDir, 'certs')),
    freePort(),
    freePort(),
    freePort(),
  ]);
  log(`downloads/cache checks and certificates done in ${secs(t0)}`);

  const env = {
    id,
    runDir,
    file: path.join(runDir, 'env.json'),
    createdAt: new Date().toISOString(),
    ownerPid: opts.ownerPid || null,
    region: REGION,
    credentials: CREDENTIALS,
    certs,
    services: {},
    versions: {
      kafka: kafkaVersion,
      dynamodbLocal: install.VERSIONS.dynamodbLocal,
      moto: install.VERSIONS.moto,
      rie: rie ? `${rie.kind}@${rie.version}` : null,
    },
  };
  try {
    if (kafkaInst) {
      const k = await prepareKafka({ runDir, certs, install: kafkaInst, properties: opts.kafkaProperties });
      env.kafka = k.info;
      env.services.kafka = k.service;
    }
    if (ddbInst) {
      const dataDir = path.join(runDir, 'dynamodb');
      fs.mkdirSync(dataDir, { recursive: true });
      env.dynamodb = { endpoint: `http://127.0.0.1:${ddbPort}`, port: ddbPort, version: ddbInst.version, dataDir };
      env.services.dynamodb = {
        cmd: 'java',
        // -sharedDb -dbPath: data survives stopService/startService (fault tests); one db for all keys/regions.
        // ServerRunner has no bind-address option, so a small launcher binds the same server to 127.0.0.1.
        args: [
          '-Xms64m',
          '-Xmx384m',
          '-XX:TieredStopAtLevel=1',
          '-XX:+UseSerialGC',
          `-Djava.library.path=${ddbInst.nativeDir}`,
          '-cp',
          `${ddbInst.libDir}/*`,
          path.join(__dirname, 'java', 'DynamoDbLoopback.java'),
          String(ddbPort),
          dataDir,
        ],
        cwd: dataDir,
        env: {},
        ready: { kind: 'dynamodb' },
      };
    }
    if (motoInst) {
      env.moto = {
        endpoint: `http://127.0.0.1:${motoPort}`,
        port: motoPort,
        version: motoInst.version,
        glueSerdeLibDir: glueSerde.libDir,
      };
      env.services.moto = {
        cmd: motoInst.bin,
        args: ['-H', '127.0.0.1', '-p', String(motoPort)],
        cwd: runDir,
        env: { MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
        ready: { kind: 'http', port: motoPort, path: '/moto-api/data.json' },
      };
    }
    if (wanted.has('lambdaFront')) {
      const lambdasDir = path.join(runDir, 'lambdas');
      fs.mkdirSync(lambdasDir, { recursive: true });
      env.lambda = {
        endpoint: `http://127.0.0.1:${frontPort}`,
        port: frontPort,
        lambdasDir,
        rie,
        // What the nodejs24.x runtime runs: Node 24 and the official runtime interface client.
        runtimeClient: {
          kind: 'aws-lambda-ric',
          version: ric.version,
          entry: ric.entry,
          dir: ric.dir,
          node: ric.node.bin,
          nodeVersion: ric.node.version,
        },
      };
      env.services.lambdaFront = {
        cmd: process.execPath,
        args: [path.join(TESTENV_DIR, 'lambda-front.js'), runDir, String(frontPort)],
        cwd: runDir,
        env: { AWS_REGION: REGION },
        ready: { kind: 'http', port: frontPort, path: '/_testenv/health' },
      };
    }
    saveEnv(env);
    await Promise.all(Object.keys(env.services).map((n) => launch(env, n)));
    saveEnv(env);
    if (opts.ownerPid) startWatchdog(env, opts.ownerPid);
    log(`test environment up in ${secs(t0)}: ${env.file}`);
    return env;
  } catch (e) {
    log(`start failed, stopping what was started: ${e.message.split('\n')[0]}`);
    await stop(runDir, { keep: true }).catch(() => {});
    throw e;
  }
}

/** Detached watcher that stops the run when ownerPid (the jest process) disappears without teardown. */
function startWatchdog(env, ownerPid) {
  spawnDetached('watchdog', process.execPath, [path.join(TESTENV_DIR, 'watchdog.js'), env.runDir, String(ownerPid)], {
    runDir: env.runDir,
  });
}

/**
 * Stop every process recorded under <runDir>/pids (Lambda RIEs first, then services), then delete
 * the run's data and certificates, keeping logs/ and env.json for post-mortems unless opts.purge.
 * Safe to call twice and from any process.
 */
async function stop(runDirOrEnv, opts = {}) {
  const file = envFile(runDirOrEnv);
  const runDir = path.dirname(file);
  const pidDir = path.join(runDir, 'pids');
  const pids = fs.existsSync(pidDir) ? fs.readdirSync(pidDir).filter((f) => f.endsWith('.pid')) : [];
  const order = (f) => (f.startsWith('watchdog') ? 0 : f.startsWith('lambda-') ? 1 : 2);
  for (const group of [0, 1, 2]) {
    await Promise.all(
      pids
        .filter((f) => order(f) === group && !(opts.exceptWatchdog && group === 0))
        .map((f) => killPidfile(path.join(pidDir, f), group === 2 ? 15000 : 3000)),
    );
  }
  if (!opts.keep) {
    for (const d of fs.existsSync(runDir) ? fs.readdirSync(runDir) : []) {
      if (opts.purge || !['logs', 'env.json'].includes(d)) fs.rmSync(path.join(runDir, d), { recursive: true, force: true });
    }
    if (opts.purge) fs.rmSync(runDir, { recursive: true, force: true });
  }
  log(`stopped run ${runDir} (${pids.length} processes)`);
}

/**
 * Stop every run under testenv/.run (for a shell `trap`, or after a killed CI job). With
 * opts.orphans only runs whose owner process (the jest that started them) is gone are stopped,
 * so a trap cannot take down a parallel run in the same checkout.
 */
async function stopAll(opts = {}) {
  let dirs;
  try {
    dirs = fs.readdirSync(RUN_ROOT);
  } catch {
    return 0;
  }
  let n = 0;
  for (const d of dirs) {
    const dir = path.join(RUN_ROOT, d);
    if (!fs.existsSync(path.join(dir, 'pids'))) continue;
    if (opts.orphans) {
      let owner = null;
      try {
        owner = loadEnv(dir).ownerPid;
      } catch {
        /* env.json not written yet: starting */
      }
      if (!owner || isAlive(owner)) continue;
    }
    await stop(dir, opts);
    n++;
  }
  return n;
}

/** Stop one service (e.g. 'kafka', 'dynamodb', 'moto', 'lambdaFront'); ports and data are kept. */
async function stopService(name, env = loadEnv()) {
  if (!env.services[name]) throw new Error(`unknown service ${name}`);
  await killPidfile(path.join(env.runDir, 'pids', `${name}.pid`), 20000);
  const cur = loadEnv(env.file);
  cur.services[name].pid = null;
  saveEnv(cur);
}

/**
 * Start a stopped service again with the same ports and data; resolves when it is ready. For Kafka
 * that includes every existing topic's partitions having a leader that serves them again (polled,
 * bounded by partitionsTimeoutMs): right after the listeners answer, metadata can still name no
 * leader, or a leader that answers "This server does not host this topic-partition".
 */
async function startService(name, env = loadEnv(), { partitionsTimeoutMs = 60000 } = {}) {
  const cur = loadEnv(env.file);
  if (!cur.services[name]) throw new Error(`unknown service ${name}`);
  const pidFile = path.join(cur.runDir, 'pids', `${name}.pid`);
  if (fs.existsSync(pidFile) && isAlive(Number(fs.readFileSync(pidFile, 'utf8')))) throw new Error(`${name} is already running`);
  await launch(cur, name);
  if (name === 'kafka') {
    const t = Date.now();
    await waitFor('kafka partition leaders after the restart', () => partitionsLed(cur), {
      timeoutMs: partitionsTimeoutMs,
      intervalMs: 250,
    });
    log(`kafka partitions led again ${secs(t)} after the broker was ready`);
  }
  const latest = loadEnv(env.file);
  latest.services[name] = cur.services[name];
  saveEnv(latest);
}

/** Change a SCRAM user's password on the running broker (password rotation tests). */
async function setScramPassword({ username, password, mechanism = 'SCRAM-SHA-512' }, env = loadEnv()) {
  await setScram(env, { username, password, mechanism });
  const cur = loadEnv(env.file);
  for (const u of Object.values(cur.kafka.scram))
    if (u.username === username && cur.kafka.scram[mechanism] === u) u.password = password;
  saveEnv(cur);
}

/** Client config for AWS SDK v3 clients: endpoint of the right stand-in, region, fake credentials. */
function awsClientConfig(service, env = loadEnv(), extra = {}) {
  const s = String(service).toLowerCase();
  let endpoint;
  if (s === 'dynamodb') endpoint = env.dynamodb.endpoint;
  else if (s === 'lambda') endpoint = env.lambda.endpoint;
  else endpoint = env.moto.endpoint;
  return {
    endpoint,
    region: env.region,
    credentials: { ...env.credentials },
    ...(s === 's3' ? { forcePathStyle: true } : {}),
    ...extra,
  };
}

/**
 * Create a topic with N partitions over PLAINTEXT (kafkajs admin); resolves when every partition has a leader that
 * serves it. kafkajs's own waitForLeaders gives up on the first "This server does not host this topic-partition",
 * which a broker answers while it is still loading a new partition, so the wait is polled here.
 */
async function createTopic(topic, numPartitions = 1, env = loadEnv(), configEntries = []) {
  const { Kafka, logLevel } = require('kafkajs');
  const admin = new Kafka({ ...kafkaClientConfig(env, 'plaintext'), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }] });
    await waitFor(
      `topic ${topic} led`,
      async () => {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = topics[0]?.partitions ?? [];
        if (partitions.length !== numPartitions || partitions.some((p) => !(p.leader >= 0) || p.partitionErrorCode)) return false;
        await admin.fetchTopicOffsets(topic);
        return true;
      },
      { timeoutMs: 30000, intervalMs: 100 },
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * Run a Lambda function (task root `dir` with e.g. index.js) as its own RIE process and register it
 * with the front under `name`. Function env gets the stand-in endpoints (AWS_ENDPOINT_URL* and fake
 * credentials) unless overridden by opts.env. Returns { name, arn, port, logFile, stop() }.
 */
async function startLambda(
  { name, dir, handler = 'index.handler', env: userEnv = {}, timeoutSeconds = 30, memoryMb = 128, concurrency = 1 },
  env = loadEnv(),
) {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`invalid function name ${name}`);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 8)
    throw new Error(`concurrency must be 1 to 8, got ${concurrency}`);
  const t = Date.now();
  const rie = env.lambda.rie;
  const fnEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    AWS_REGION: env.region,
    AWS_DEFAULT_REGION: env.region,
    AWS_ACCESS_KEY_ID: env.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: env.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: env.credentials.sessionToken,
    ...(env.moto ? { AWS_ENDPOINT_URL: env.moto.endpoint } : {}),
    ...(env.dynamodb ? { AWS_ENDPOINT_URL_DYNAMODB: env.dynamodb.endpoint } : {}),
    AWS_ENDPOINT_URL_LAMBDA: env.lambda.endpoint,
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(timeoutSeconds),
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '$LATEST',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: path.resolve(dir),
    LAMBDA_RUNTIME_DIR: env.lambda.runtimeClient.dir,
    _HANDLER: handler,
    NODE_PATH: '',
    ...userEnv,
  };
  // The official RIE binds its Runtime API to 127.0.0.1:9001 unless told otherwise: one port per process. One
  // process runs one invocation at a time, so concurrent executions are processes of their own.
  await stopLambdaProcesses(name, env); // re-registering a name replaces it
  const instances = [];
  for (let i = 0; i < concurrency; i++) {
    const port = await freePort();
    const args = [
      '--runtime-interface-emulator-address',
      `127.0.0.1:${port}`,
      '--runtime-api-address',
      `127.0.0.1:${await freePort()}`,
      env.lambda.runtimeClient.node,
      env.lambda.runtimeClient.entry,
      handler,
    ];
    const svcName = i === 0 ? `lambda-${name}` : `lambda-${name}@${i}`;
    const proc = spawnDetached(svcName, rie.bin, args, {
      cwd: path.resolve(dir),
      env: fnEnv,
      runDir: env.runDir,
      cleanEnv: true,
    });
    instances.push({ svcName, port, proc });
  }
  // Generous: a node process on a loaded 2-core machine can take tens of seconds to listen.
  for (const { svcName, port, proc } of instances)
    await waitFor(svcName, () => tcpOpen(port), { timeoutMs: 90000, proc, intervalMs: 100 });
  const [{ port, proc }] = instances;
  const reg = {
    name,
    port,
    ports: instances.map((x) => x.port),
    logFiles: instances.map((x) => x.proc.logFile),
    pid: proc.pid,
    logFile: proc.logFile,
    dir: path.resolve(dir),
    handler,
  };
  fs.writeFileSync(path.join(env.lambda.lambdasDir, `${name}.json`), JSON.stringify(reg, null, 2));
  log(`lambda ${name} ready in ${secs(t)}`);
  return {
    name,
    arn: `arn:aws:lambda:${env.region}:000000000000:function:${name}`,
    port,
    logFile: proc.logFile,
    stop: () => stopLambda(name, env),
  };
}

/** Unregister and stop a function started with startLambda (all its processes). */
async function stopLambda(name, env = loadEnv()) {
  try {
    fs.unlinkSync(path.join(env.lambda.lambdasDir, `${name}.json`));
  } catch {
    /* not registered */
  }
  // The front counts the calls this cuts off (lambdaStats); a front already stopped has nothing to count.
  const tell = (what) =>
    httpRequest({
      port: env.lambda.port,
      method: 'POST',
      path: `/_testenv/${what}`,
      body: JSON.stringify({ name }),
      headers: { 'content-type': 'application/json' },
      timeoutMs: 15000,
    }).catch(() => undefined);
  await tell('stopping');
  await stopLambdaProcesses(name, env);
  await tell('stopped');
}

async function stopLambdaProcesses(name, env) {
  const dir = path.join(env.runDir, 'pids');
  const files = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => f === `lambda-${name}.pid` || f.startsWith(`lambda-${name}@`))
    : [];
  await Promise.all(files.map((f) => killPidfile(path.join(dir, f), 3000)));
}

/** Make the front answer the next `count` invocations of `name` with 429 TooManyRequestsException. */
async function throttleLambda(name, count, env = loadEnv()) {
  const r = await httpRequest({
    port: env.lambda.port,
    method: 'POST',
    path: '/_testenv/throttle',
    body: JSON.stringify({ name, count }),
    headers: { 'content-type': 'application/json' },
  });
  if (r.status !== 200) throw new Error(`throttle failed: ${r.status} ${r.body}`);
}

/** What the front counted for a function: 429s it answered, invocations cut off because the function's process stopped. */
async function lambdaStats(name, env = loadEnv()) {
  const r = await httpRequest({ port: env.lambda.port, method: 'GET', path: `/_testenv/stats?name=${encodeURIComponent(name)}` });
  if (r.status !== 200) throw new Error(`stats failed: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

/** Invocations seen by the front (Event ones finish in the background: poll for doneAt). */
async function listInvocations(name, env = loadEnv()) {
  const r = await httpRequest({
    port: env.lambda.port,
    path: `/_testenv/invocations${name ? `?name=${encodeURIComponent(name)}` : ''}`,
  });
  return JSON.parse(r.body);
}

module.exports = {
  RUN_ROOT,
  start,
  stop,
  stopAll,
  loadEnv,
  stopService,
  startService,
  setScramPassword,
  startLambda,
  stopLambda,
  throttleLambda,
  listInvocations,
  lambdaStats,
  createTopic,
  awsClientConfig,
  kafkaClientConfig: (listener, opts, env = loadEnv()) => kafkaClientConfig(env, listener, opts),
};
