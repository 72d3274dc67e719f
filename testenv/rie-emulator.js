#!/usr/bin/env node
'use strict';
/**
 * Stand-in for the AWS Lambda Runtime Interface Emulator, used only when the official Go binary
 * cannot be built (this machine's Go module proxy refuses github.com/aws/aws-lambda-runtime-interface-emulator
 * with 403). Same command line and the same two faces as `aws-lambda-rie`:
 *   node rie-emulator.js --runtime-interface-emulator-address 127.0.0.1:PORT <bootstrap> [args...]
 *   - invoke API: POST /2015-03-31/functions/{any name}/invocations (name ignored, like RIE)
 *   - Lambda Runtime API for the bootstrap on its own loopback port (AWS_LAMBDA_RUNTIME_API)
 * Like RIE: runtime started on the first invoke, one invoke at a time (extra ones queue here instead
 * of RIE's 400), the function timeout from AWS_LAMBDA_FUNCTION_TIMEOUT answers
 * "Task timed out after N.00 seconds" and resets the runtime, START/END/REPORT lines on stdout.
 * Unlike RIE (which answers handler errors with a plain 200) it sets X-Amz-Function-Error the
 * way the Lambda service does; the front adds it for the real RIE by looking at the error body.
 */
const http = require('node:http');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');

const argv = process.argv.slice(2);
let address = '127.0.0.1:8080';
if (argv[0] === '--runtime-interface-emulator-address') { address = argv[1]; argv.splice(0, 2); }
const [bootCmd, ...bootArgs] = argv;
const [listenHost, listenPort] = address.split(':');

const timeoutSec = Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT || 300);
const memory = process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '3008';
const fnName = process.env.AWS_LAMBDA_FUNCTION_NAME || 'test_function';
const region = process.env.AWS_REGION || 'us-east-1';
const version = process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST';

let runtime = null; // child process of the bootstrap
let runtimeApiPort = 0;
let nextWaiter = null; // pending GET /invocation/next response
let current = null; // { id, payload, headers, res, timer, start }
const queue = [];

function readBody(req) {
  return new Promise((resolve) => { const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => resolve(Buffer.concat(c))); });
}

function startRuntime() {
  const child = spawn(bootCmd, bootArgs, {
    stdio: ['ignore', 'inherit', 'inherit'],
    // Same process group as the emulator: stopping the emulator's group also ends the runtime.
    env: {
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fnName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: '$LATEST',
      AWS_LAMBDA_FUNCTION_VERSION: version,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: memory,
      AWS_LAMBDA_FUNCTION_NAME: fnName,
      ...process.env,
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${runtimeApiPort}`,
    },
  });
  runtime = child;
  child.sawNext = false;
  child.initError = null;
  child.on('exit', (code, signal) => {
    if (runtime === child) runtime = null;
    nextWaiter = null;
    const exitError = (id) => JSON.stringify({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${id} Error: Runtime exited ${signal ? `with signal: ${signal}` : `with error: exit status ${code}`}`,
    });
    if (current) {
      finish(200, exitError(current.id), 'Unhandled');
    } else if (!child.sawNext && !child.initError && queue.length) {
      // Died during init without reporting: fail the invoke that triggered the init, not retry forever.
      takeHead();
      finish(200, exitError(current.id), 'Unhandled');
    } else {
      setImmediate(pump);
    }
  });
}

/** Make the oldest queued invoke the current one without handing it to a runtime (init failures). */
function takeHead() {
  current = queue.shift();
  current.start = Date.now();
  console.log(`START RequestId: ${current.id} Version: ${version}`);
}

function killRuntime() {
  if (!runtime) return;
  const pid = runtime.pid;
  runtime = null;
  nextWaiter = null;
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

function finish(status, body, functionError) {
  const c = current;
  if (!c) return;
  current = null;
  clearTimeout(c.timer);
  const ms = Date.now() - c.start;
  console.log(`END RequestId: ${c.id}`);
  console.log(`REPORT RequestId: ${c.id}\tDuration: ${ms.toFixed(2)} ms\tBilled Duration: ${Math.ceil(ms)} ms\tMemory Size: ${memory} MB\tMax Memory Used: ${memory} MB\t`);
  const headers = { 'content-type': 'application/json', 'x-amzn-requestid': c.id };
  if (functionError) headers['x-amz-function-error'] = functionError;
  c.res.writeHead(status, headers);
  c.res.end(body);
  setImmediate(pump);
}

/** Hand the next queued invoke to a runtime waiting in GET /next, starting the runtime if needed. */
function pump() {
  if (current || queue.length === 0) return;
  if (!runtime) { startRuntime(); return; }
  if (!nextWaiter) return;
  current = queue.shift();
  current.start = Date.now();
  const deadline = current.start + timeoutSec * 1000;
  console.log(`START RequestId: ${current.id} Version: ${version}`);
  const headers = {
    'content-type': 'application/json',
    'lambda-runtime-aws-request-id': current.id,
    'lambda-runtime-deadline-ms': String(deadline),
    'lambda-runtime-invoked-function-arn': current.arn,
    'lambda-runtime-trace-id': current.headers['x-amzn-trace-id'] || `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${crypto.randomBytes(12).toString('hex')};Parent=${crypto.randomBytes(8).toString('hex')};Sampled=0`,
  };
  if (current.headers['x-amz-client-context']) {
    headers['lambda-runtime-client-context'] = Buffer.from(current.headers['x-amz-client-context'], 'base64').toString('utf8');
  }
  const w = nextWaiter;
  nextWaiter = null;
  w.writeHead(200, headers);
  w.end(current.payload);
  const id = current.id;
  current.timer = setTimeout(() => {
    if (!current || current.id !== id) return;
    killRuntime();
    finish(200, JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${timeoutSec.toFixed(2)} seconds` }), 'Unhandled');
  }, timeoutSec * 1000);
}

const runtimeApi = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const url = req.url.replace(/^\/2018-06-01\/runtime/, '');
  const ok = () => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{"status":"OK"}'); };
  let m;
  if (req.method === 'GET' && url === '/invocation/next') {
    if (runtime) runtime.sawNext = true;
    nextWaiter = res;
    pump();
  } else if (req.method === 'POST' && (m = url.match(/^\/invocation\/([^/]+)\/response$/))) {
    ok();
    if (current && current.id === m[1]) finish(200, body);
  } else if (req.method === 'POST' && (m = url.match(/^\/invocation\/([^/]+)\/error$/))) {
    ok();
    if (current && current.id === m[1]) finish(200, body.length ? body : '{"errorType":"Unknown","errorMessage":"Unknown"}', 'Unhandled');
  } else if (req.method === 'POST' && url === '/init/error') {
    ok();
    // Like Lambda: the invoke that caused the init gets the init error; the next one re-inits.
    if (runtime) runtime.initError = body;
    if (!current && queue.length) takeHead();
    if (current) finish(200, body, 'Unhandled');
  } else {
    res.writeHead(404); res.end();
  }
});

const invokeApi = http.createServer(async (req, res) => {
  if (req.method !== 'POST' || !/^\/2015-03-31\/functions\/[^/]+\/invocations/.test(req.url)) {
    res.writeHead(404); res.end(); return;
  }
  const payload = await readBody(req);
  queue.push({
    id: crypto.randomUUID(),
    payload: payload.length ? payload : Buffer.from('{}'),
    headers: req.headers,
    arn: `arn:aws:lambda:${region}:012345678912:function:${fnName}`,
    res,
  });
  pump();
});

runtimeApi.listen(0, '127.0.0.1', () => {
  runtimeApiPort = runtimeApi.address().port;
  invokeApi.listen(Number(listenPort), listenHost, () => {
    console.log(`rie-emulator: invoke API on ${address}, runtime API on 127.0.0.1:${runtimeApiPort}, function ${fnName}`);
  });
});
const shutdown = () => { killRuntime(); process.exit(0); };
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
