'use strict';
/**
 * Fetches the stand-ins into the cache dir (outside the repo) once; later runs only read a marker
 * file per artifact, so a warm start costs no network and no Maven/pip/go start-up.
 */
const fs = require('node:fs');
const path = require('node:path');
const { TESTENV_DIR, cacheDir, log, run } = require('./util');

/** Pinned versions. Kafka is selectable with CKL_KAFKA_VERSION (e.g. 4.3.1). */
const VERSIONS = {
  kafka: process.env.CKL_KAFKA_VERSION || '3.9.2',
  dynamodbLocal: '2.6.1',
  moto: '5.2.5',
  rie: process.env.CKL_RIE_VERSION || 'latest',
};

function readMarker(file) {
  try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return null; }
}

/** Write marker last, so an interrupted download is retried next time. */
function writeMarker(file, data) {
  fs.writeFileSync(file, JSON.stringify({ ...data, at: new Date().toISOString() }, null, 2));
}

/** Concurrent first runs (two jest runs on a cold machine) serialize on a lock dir per artifact. */
async function withLock(dir, fn) {
  const lock = `${dir}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const until = Date.now() + 15 * 60 * 1000;
  for (;;) {
    try { fs.mkdirSync(lock); break; } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      // Stale lock of a killed installer: older than 15 minutes.
      try { if (Date.now() - fs.statSync(lock).mtimeMs > 15 * 60 * 1000) fs.rmSync(lock, { recursive: true }); } catch { /* raced */ }
      if (Date.now() > until) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try { return await fn(); } finally { fs.rmSync(lock, { recursive: true, force: true }); }
}

/**
 * Maven 3.8 does not lock its local repository, so the Kafka and DynamoDB resolutions run one after
 * the other (both still finish while pip installs moto).
 */
let mavenQueue = Promise.resolve();
function mavenCopy(dir, profiles, props) {
  const next = mavenQueue.then(() => mavenCopyNow(dir, profiles, props));
  mavenQueue = next.catch(() => {});
  return next;
}

/** Maven: copy a profile's dependency closure into dir (class path = dir/*). */
async function mavenCopyNow(dir, profiles, props) {
  const args = ['-B', '-q', '-f', path.join(TESTENV_DIR, 'pom.xml'), '-P', profiles.join(','),
    ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
    'dependency:copy-dependencies', `-DoutputDirectory=${dir}`];
  await run('mvn', args, { timeout: 15 * 60 * 1000 });
}

/** Apache Kafka jars (broker + tools). Returns { version, libDir }. */
async function ensureKafka(version = VERSIONS.kafka) {
  const dir = path.join(cacheDir(), `kafka-${version}`);
  const marker = path.join(dir, '.ckl-ready.json');
  const m = readMarker(marker);
  if (m) return { version, libDir: path.join(dir, 'libs') };
  return withLock(dir, async () => {
    if (readMarker(marker)) return { version, libDir: path.join(dir, 'libs') };
    const t = Date.now();
    log(`downloading Apache Kafka ${version} jars from Maven Central (mvn)`);
    fs.rmSync(path.join(dir, 'libs'), { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const profiles = ['kafka'];
    if (Number(version.split('.')[0]) >= 4) profiles.push('kafka-log4j2');
    await mavenCopy(path.join(dir, 'libs'), profiles, { 'kafka.version': version });
    writeMarker(marker, { version });
    log(`Kafka ${version} jars ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    return { version, libDir: path.join(dir, 'libs') };
  });
}

/**
 * DynamoDB Local jars plus its sqlite4java native library. sqlite4java looks up
 * `libsqlite4java-linux-amd64-<ver>.so` (what Maven copies) and falls back to the unversioned name,
 * so the native dir gets both.
 */
async function ensureDynamoDbLocal(version = VERSIONS.dynamodbLocal) {
  const dir = path.join(cacheDir(), `dynamodb-local-${version}`);
  const marker = path.join(dir, '.ckl-ready.json');
  const res = { version, libDir: path.join(dir, 'libs'), nativeDir: path.join(dir, 'native') };
  if (readMarker(marker)) return res;
  return withLock(dir, async () => {
    if (readMarker(marker)) return res;
    const t = Date.now();
    log(`downloading DynamoDB Local ${version} from Maven Central (mvn)`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(res.nativeDir, { recursive: true });
    await mavenCopy(res.libDir, ['dynamodb'], { 'dynamodb.local.version': version });
    for (const f of fs.readdirSync(res.libDir)) {
      if (!/^libsqlite4java-.*\.(so|dylib)$|^sqlite4java-.*\.dll$/.test(f)) continue;
      fs.renameSync(path.join(res.libDir, f), path.join(res.nativeDir, f));
      const unversioned = f.replace(/-\d+(\.\d+)+(\.(so|dylib|dll))$/, '$2');
      fs.copyFileSync(path.join(res.nativeDir, f), path.join(res.nativeDir, unversioned));
    }
    writeMarker(marker, { version });
    log(`DynamoDB Local ${version} ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    return res;
  });
}

/** moto[server] in a venv keyed by its pinned version. */
async function ensureMoto(version = VERSIONS.moto) {
  const dir = path.join(cacheDir(), `moto-${version}`);
  const marker = path.join(dir, '.ckl-ready.json');
  const res = { version, bin: path.join(dir, 'venv', 'bin', 'moto_server') };
  if (readMarker(marker)) return res;
  return withLock(dir, async () => {
    if (readMarker(marker)) return res;
    const t = Date.now();
    log(`installing moto[server]==${version} from PyPI into a venv (pip)`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    await run('python3', ['-m', 'venv', path.join(dir, 'venv')]);
    await run(path.join(dir, 'venv', 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', `moto[server]==${version}`],
      { timeout: 15 * 60 * 1000 });
    writeMarker(marker, { version });
    log(`moto ${version} ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    return res;
  });
}

/**
 * The official AWS Lambda Runtime Interface Emulator, built from its Go module. Returns
 * { kind: 'aws-lambda-rie', bin, version } or, when the module cannot be fetched (here the Go module
 * proxy answers 403 for it), { kind: 'node-emulator', bin: testenv/rie-emulator.js, reason }.
 * CKL_RIE_BIN points at a prebuilt binary. A failed attempt is remembered for a day, so warm starts
 * do not hit the network again.
 */
async function ensureRie() {
  const fallback = (reason) => ({ kind: 'node-emulator', bin: path.join(TESTENV_DIR, 'rie-emulator.js'), version: 'testenv', reason });
  if (process.env.CKL_RIE_BIN) return { kind: 'aws-lambda-rie', bin: process.env.CKL_RIE_BIN, version: 'CKL_RIE_BIN' };
  if (process.env.CKL_RIE === 'node') return fallback('CKL_RIE=node');
  const dir = path.join(cacheDir(), `rie-${VERSIONS.rie}`);
  const marker = path.join(dir, '.ckl-ready.json');
  const m = readMarker(marker);
  if (m && m.ok) return { kind: 'aws-lambda-rie', bin: path.join(dir, 'bin', 'aws-lambda-rie'), version: m.version };
  if (m && !m.ok && Date.now() - Date.parse(m.at) < 24 * 3600 * 1000) return fallback(m.reason);
  return withLock(dir, async () => {
    const t = Date.now();
    log(`building aws-lambda-rie@${VERSIONS.rie} with go install`);
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    try {
      await run('go', ['install', `github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${VERSIONS.rie}`], {
        timeout: 5 * 60 * 1000,
        env: { ...process.env, GOBIN: path.join(dir, 'bin'), GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      });
      writeMarker(marker, { ok: true, version: VERSIONS.rie });
      log(`aws-lambda-rie built in ${((Date.now() - t) / 1000).toFixed(1)}s`);
      return { kind: 'aws-lambda-rie', bin: path.join(dir, 'bin', 'aws-lambda-rie'), version: VERSIONS.rie };
    } catch (e) {
      const reason = `go install of the RIE module failed: ${e.message.split('\n').filter(Boolean).slice(-3).join(' | ').slice(0, 400)}`;
      log(`${reason}; using testenv/rie-emulator.js instead`);
      writeMarker(marker, { ok: false, reason });
      return fallback(reason);
    }
  });
}

module.exports = { VERSIONS, ensureKafka, ensureDynamoDbLocal, ensureMoto, ensureRie };
