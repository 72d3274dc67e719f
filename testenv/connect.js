'use strict';
/**
 * A real Kafka Connect worker (org.apache.kafka:connect-runtime, standalone mode) on the test broker, for the
 * migration tests. Its jars are fetched on first use (not at the start of every run) and cached like the broker's;
 * connectors written for the tests are compiled with javac against them, cached by their source's hash. The worker
 * is a detached process with a pidfile in the run dir, so the run's teardown stops it if a test does not.
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { cacheDir, log, freePort, run, spawnDetached, killPidfile, waitFor, httpRequest, tail } = require('./lib/util');
const install = require('./lib/install');

/**
 * Compile Java sources (one connector and its task classes) against the Connect API; returns the class dir.
 * Each public top-level connector class is listed in META-INF/services, so the worker finds it by ServiceLoader.
 */
async function compileConnector(sources, { version } = {}) {
  const connect = await install.ensureConnect(version);
  const hash = crypto.createHash('sha256').update(connect.version);
  for (const s of sources) hash.update(s).update(fs.readFileSync(s));
  const dir = path.join(cacheDir(), 'connect-fixtures', hash.digest('hex').slice(0, 16));
  if (fs.existsSync(dir)) return { classesDir: dir, libDir: connect.libDir };
  const tmp = `${dir}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const t = Date.now();
  await run('javac', ['-nowarn', '-d', tmp, '-cp', `${connect.libDir}/*`, ...sources], { timeout: 120000 });
  const classes = sources.map((s) => {
    const src = fs.readFileSync(s, 'utf8');
    const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(src)?.[1];
    return `${pkg ? `${pkg}.` : ''}${path.basename(s, '.java')}`;
  });
  fs.mkdirSync(path.join(tmp, 'META-INF', 'services'), { recursive: true });
  fs.writeFileSync(
    path.join(tmp, 'META-INF', 'services', 'org.apache.kafka.connect.sink.SinkConnector'),
    `${classes.join('\n')}\n`,
  );
  try {
    fs.renameSync(tmp, dir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another process compiled the same sources first
  }
  log(`compiled ${classes.join(', ')} in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  return { classesDir: dir, libDir: connect.libDir };
}

const properties = (o) =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n') + '\n';

/**
 * Start a standalone worker running one connector; resolves when the connector and all its tasks are RUNNING (its
 * REST API polled on a loopback port). opts: { name, connectorClass, config (the connector's other properties),
 * classesDir (compileConnector's), offsetFlushIntervalMs (default 500), worker (extra worker properties) }.
 */
async function startConnectWorker(opts, env) {
  const { loadEnv } = require('./index');
  env = env || loadEnv();
  const { name, connectorClass, config = {}, classesDir, offsetFlushIntervalMs = 500, worker = {} } = opts;
  const connect = await install.ensureConnect(env.kafka.version);
  const id = `connect-${name}-${crypto.randomBytes(3).toString('hex')}`;
  const dir = path.join(env.runDir, id);
  fs.mkdirSync(dir, { recursive: true });
  const restPort = await freePort();
  const workerFile = path.join(dir, 'worker.properties');
  fs.writeFileSync(
    workerFile,
    properties({
      'bootstrap.servers': env.kafka.bootstrap.plaintext,
      'key.converter': 'org.apache.kafka.connect.converters.ByteArrayConverter',
      'value.converter': 'org.apache.kafka.connect.converters.ByteArrayConverter',
      'offset.storage.file.filename': path.join(dir, 'connect.offsets'),
      // A sink connector's consumer offsets go to the group connect-<name> on the broker at this interval.
      'offset.flush.interval.ms': offsetFlushIntervalMs,
      listeners: `http://127.0.0.1:${restPort}`,
      'rest.advertised.host.name': '127.0.0.1',
      'rest.advertised.port': restPort,
      // Plugins by their META-INF/services entries, without scanning every jar of the class path.
      'plugin.discovery': 'service_load',
      ...worker,
    }),
  );
  const connectorFile = path.join(dir, 'connector.properties');
  fs.writeFileSync(connectorFile, properties({ name, 'connector.class': connectorClass, 'tasks.max': 1, ...config }));
  const log4j = path.join(dir, 'log4j.properties');
  fs.writeFileSync(
    log4j,
    properties({
      'log4j.rootLogger': 'INFO, stdout',
      'log4j.appender.stdout': 'org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout': 'org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern': '[%d] %p %m (%c)%n',
      'log4j.logger.org.reflections': 'ERROR',
    }),
  );
  const t = Date.now();
  const args = [
    '-Xms128m',
    '-Xmx384m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    `-Dlog4j.configuration=file:${log4j}`,
    `-Dlog4j2.configurationFile=${path.join(env.kafka.dir, 'log4j2.properties')}`,
    '-cp',
    [classesDir, `${connect.libDir}/*`].filter(Boolean).join(path.delimiter),
    'org.apache.kafka.connect.cli.ConnectStandalone',
    workerFile,
    connectorFile,
  ];
  const proc = spawnDetached(id, 'java', args, { cwd: dir, env: {}, runDir: env.runDir });
  const pidFile = path.join(env.runDir, 'pids', `${id}.pid`);
  let failure;
  const status = async () => {
    const r = await httpRequest({ port: restPort, path: `/connectors/${encodeURIComponent(name)}/status`, timeoutMs: 3000 });
    return r.status === 200 ? JSON.parse(r.body) : null;
  };
  try {
    await waitFor(
      `Kafka Connect worker ${id}`,
      async () => {
        const s = await status().catch(() => null);
        const failed = s && [s.connector, ...s.tasks].find((x) => x.state === 'FAILED');
        // A failed connector stays failed: stop polling (waitFor goes on after a check that throws).
        if (failed) return (failure = `connector ${name} FAILED: ${failed.trace}`);
        return !!s && s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((x) => x.state === 'RUNNING');
      },
      { timeoutMs: 90000, intervalMs: 200, proc },
    );
    if (failure) throw new Error(failure);
  } catch (e) {
    await killPidfile(pidFile, 5000);
    throw new Error(`${e.message}\n${tail(proc.logFile)}`, { cause: e });
  }
  log(`Kafka Connect worker ${id} running ${name} in ${((Date.now() - t) / 1000).toFixed(1)}s (REST 127.0.0.1:${restPort})`);
  return {
    name,
    groupId: `connect-${name}`,
    restPort,
    logFile: proc.logFile,
    dir,
    status,
    /** SIGTERM (the worker stops its tasks, which commit what preCommit gives), wait for the exit; SIGKILL after graceMs. */
    stop: (graceMs = 20000) => killPidfile(pidFile, graceMs),
  };
}

module.exports = { compileConnector, startConnectWorker };
