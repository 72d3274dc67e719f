'use strict';
/**
 * Minimal Node.js Lambda runtime interface client (the loop the official `aws-lambda-ric` runs),
 * started by the emulator with AWS_LAMBDA_RUNTIME_API set. Chosen over the npm `aws-lambda-ric`
 * because that package compiles aws-lambda-cpp and libcurl natively (needs autoconf/libtool and
 * curl headers from apt), which a fresh CI machine here does not have.
 *
 * Protocol (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
 *   GET  /2018-06-01/runtime/invocation/next            -> event + Lambda-Runtime-* headers
 *   POST /2018-06-01/runtime/invocation/{id}/response   <- handler result (JSON)
 *   POST /2018-06-01/runtime/invocation/{id}/error      <- { errorType, errorMessage, trace }
 *   POST /2018-06-01/runtime/init/error                 <- handler could not be loaded
 */
const http = require('node:http');
const path = require('node:path');
const fs = require('node:fs');
const { pathToFileURL } = require('node:url');

const [apiHost, apiPort] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const PREFIX = '/2018-06-01/runtime';

function call(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request({
      host: apiHost, port: Number(apiPort), method, path: PREFIX + p, agent,
      headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** Error shape Lambda returns to callers (errorType / errorMessage / trace). */
function toErrorPayload(err) {
  if (err instanceof Error) {
    return { errorType: err.name || 'Error', errorMessage: err.message, trace: String(err.stack || '').split('\n') };
  }
  return { errorType: 'string', errorMessage: typeof err === 'string' ? err : JSON.stringify(err), trace: [] };
}

/** Resolve `_HANDLER` = "<module path>.<export>" relative to LAMBDA_TASK_ROOT, like the managed runtime. */
async function loadHandler() {
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const spec = process.env._HANDLER || 'index.handler';
  const dot = spec.lastIndexOf('.');
  const modPath = path.resolve(root, spec.slice(0, dot));
  const fnName = spec.slice(dot + 1);
  const file = ['.js', '.cjs', '.mjs'].map((e) => modPath + e).find((f) => fs.existsSync(f));
  if (!file) throw Object.assign(new Error(`Cannot find module '${spec.slice(0, dot)}'`), { name: 'Runtime.ImportModuleError' });
  let mod;
  try {
    mod = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
  } catch (e) {
    throw Object.assign(new Error(`${e.name}: ${e.message}`), { name: 'Runtime.ImportModuleError', stack: e.stack });
  }
  const fn = mod[fnName] ?? (mod.default && mod.default[fnName]);
  if (typeof fn !== 'function') throw Object.assign(new Error(`${spec} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  return fn;
}

function makeContext(headers, requestId) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const fnName = process.env.AWS_LAMBDA_FUNCTION_NAME;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fnName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME || `/aws/lambda/${fnName}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME || '$LATEST',
    clientContext: headers['lambda-runtime-client-context'] ? JSON.parse(headers['lambda-runtime-client-context']) : undefined,
    identity: headers['lambda-runtime-cognito-identity'] ? JSON.parse(headers['lambda-runtime-cognito-identity']) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

/** Call the handler: promise-returning (async) or callback style (3 parameters). */
function invokeHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const cb = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err); else resolve(result);
    };
    context.done = cb;
    context.succeed = (r) => cb(null, r);
    context.fail = (e) => cb(e ?? new Error('handled'));
    try {
      const r = handler(event, context, cb);
      if (r && typeof r.then === 'function') r.then((v) => cb(null, v), (e) => cb(e ?? new Error('rejected')));
      else if (handler.length < 3) cb(null, r);
    } catch (e) { cb(e); }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    console.error(e.stack || e);
    await call('POST', '/init/error', toErrorPayload(e), { 'Lambda-Runtime-Function-Error-Type': e.name });
    process.exit(1);
  }
  for (;;) {
    const next = await call('GET', '/invocation/next');
    const requestId = next.headers['lambda-runtime-aws-request-id'];
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    let event;
    try { event = next.body ? JSON.parse(next.body) : {}; } catch { event = next.body; }
    try {
      const result = await invokeHandler(handler, event, makeContext(next.headers, requestId));
      await call('POST', `/invocation/${requestId}/response`, result === undefined ? 'null' : JSON.stringify(result));
    } catch (e) {
      console.error(`ERROR\tInvoke Error\t${JSON.stringify(toErrorPayload(e))}`);
      await call('POST', `/invocation/${requestId}/error`, toErrorPayload(e), { 'Lambda-Runtime-Function-Error-Type': e && e.name ? e.name : 'Error' });
    }
  }
}

process.on('unhandledRejection', (e) => { console.error('unhandledRejection', e); process.exit(128); });
main().catch((e) => { console.error('runtime loop failed', e); process.exit(1); });
