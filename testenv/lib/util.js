'use strict';
/**
 * Small process / network helpers shared by the stand-ins. Node built-ins only, so the test
 * environment works before `npm ci` has installed anything but the project devDependencies.
 */
const fs = require('node:fs');
const net = require('node:net');
const http = require('node:http');
const path = require('node:path');
const os = require('node:os');
const { spawn, execFile } = require('node:child_process');

/** Root of the testenv folder (this file lives in testenv/lib). */
const TESTENV_DIR = path.resolve(__dirname, '..');

/** Download cache outside the repo, so a fresh clone reuses jars, the moto venv and built binaries. */
function cacheDir() {
  return process.env.CKL_CACHE_DIR || path.join(os.homedir(), '.cache', 'cdk-kafka-lambda');
}

const t0 = Date.now();
/** Progress goes to stderr so stdout of the CLI stays machine-readable (the env.json path). */
function log(...args) {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[testenv ${s}s] ${args.join(' ')}\n`);
}

/** Free loopback port: bind port 0, read the port, close. Tiny race window accepted. */
/**
 * A free loopback port for a server of ours, chosen below the kernel's ephemeral range: a port from that range
 * (what listen(0) gives) can be taken by any outgoing connection between the check and the server's bind, which
 * made the broker fail with "Address already in use" on a busy machine. Never the same port twice per process.
 */
const handedOut = new Set();
function ephemeralLow() {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}
function canListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
async function freePort() {
  const low = 10000;
  const high = Math.max(low + 1000, ephemeralLow()) - 1;
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free loopback port found in ${low}-${high}`);
}

/** Run a command to completion; rejects with its output so failures are diagnosable. */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...opts }, (err, stdout, stderr) => {
      if (err) {
        err.message = `${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`;
        reject(err);
      } else resolve({ stdout, stderr });
    });
  });
}

/**
 * Start a long-running service detached (own process group, survives the starter), output to a
 * log file and pid to a pidfile, so any later process (jest teardown, `cli.js stop-all`) can stop it.
 */
function spawnDetached(name, cmd, args, { cwd, env, runDir, cleanEnv = false }) {
  const logDir = path.join(runDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    cwd: cwd || runDir,
    // cleanEnv: a Lambda function must not inherit the test runner's environment (NODE_OPTIONS, jest vars).
    env: cleanEnv ? { ...env } : { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  child.unref();
  const pidDir = path.join(runDir, 'pids');
  fs.mkdirSync(pidDir, { recursive: true });
  fs.writeFileSync(path.join(pidDir, `${name}.pid`), String(child.pid));
  let exited = null;
  child.on('exit', (code, sig) => {
    exited = { code, sig };
  });
  return { pid: child.pid, logFile, exited: () => exited };
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process below pid (children, grandchildren), from /proc; [] where /proc is missing. */
function descendants(pid) {
  const children = new Map();
  let entries;
  try {
    entries = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  for (const d of entries) {
    try {
      // stat: "pid (comm) state ppid ..."; comm may contain spaces or parentheses.
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  const out = [];
  const walk = (p) => {
    for (const c of children.get(p) || []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Stop a detached service by pidfile: SIGTERM to its process group, then SIGKILL after a grace
 * period. Descendants in other process groups get the same signals: the official RIE starts the
 * function's runtime in its own group and does not stop it when it exits itself.
 */
async function killPidfile(pidFile, graceMs = 10000) {
  let pid;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return false;
  }
  if (!pid) return false;
  const tree = isAlive(pid) ? descendants(pid) : [];
  const kill = (p, s) => {
    try {
      process.kill(-p, s);
    } catch {
      /* not a group leader */
    }
    try {
      process.kill(p, s);
    } catch {
      /* gone */
    }
  };
  const sig = (s) => {
    kill(pid, s);
    for (const c of tree) kill(c, s);
  };
  const anyAlive = () => isAlive(pid) || tree.some(isAlive);
  sig('SIGTERM');
  const until = Date.now() + graceMs;
  while (anyAlive() && Date.now() < until) await sleep(100);
  if (anyAlive()) sig('SIGKILL');
  while (anyAlive() && Date.now() < until + 3000) await sleep(50);
  try {
    fs.unlinkSync(pidFile);
  } catch {
    /* already removed */
  }
  return true;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it resolves truthy; fail early with the log tail if the process died. */
async function waitFor(what, check, { timeoutMs = 120000, intervalMs = 250, proc } = {}) {
  const until = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      lastErr = e;
    }
    if (proc && proc.exited && proc.exited()) {
      throw new Error(
        `${what} exited (${JSON.stringify(proc.exited())}) before ready; log ${proc.logFile}:\n${tail(proc.logFile)}`,
      );
    }
    if (Date.now() > until) {
      throw new Error(
        `${what} not ready after ${timeoutMs} ms: ${lastErr ? lastErr.message : ''}${proc ? `\n${tail(proc.logFile)}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

function tail(file, n = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** TCP connect probe. */
function tcpOpen(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Minimal HTTP request with a JSON/text body; resolves { status, headers, body }. */
function httpRequest({ port, host = '127.0.0.1', method = 'GET', path: p = '/', headers = {}, body, timeoutMs = 5000 }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: p, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

module.exports = {
  TESTENV_DIR,
  cacheDir,
  log,
  freePort,
  run,
  spawnDetached,
  killPidfile,
  descendants,
  isAlive,
  sleep,
  waitFor,
  tail,
  tcpOpen,
  httpRequest,
};
