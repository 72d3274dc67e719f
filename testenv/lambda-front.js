#!/usr/bin/env node
'use strict';
/**
 * Loopback Lambda Invoke API in front of one RIE process per function, so several named functions
 * can be invoked through one endpoint with @aws-sdk/client-lambda (RIE itself serves one function
 * and ignores the name, the invocation type and the log type).
 *   node lambda-front.js <runDir> <port>
 * Functions are registered as <runDir>/lambdas/<name>.json ({ name, port, ports, logFile, logFiles }) by
 * startLambda() in any process; the file is read on every call, so no restart is needed.
 * Implements: names, full/partial ARNs and `name:qualifier`; the signing access key of each call (`accessKeyId`); InvocationType RequestResponse, Event
 * (202, run in background, result kept in the invocation log) and DryRun (204); LogType Tail
 * (last 4 KB of the function log, base64); 404 ResourceNotFoundException; injected 429
 * TooManyRequestsException (POST /_testenv/throttle {name,count}); as many concurrent executions per
 * function as it has RIE processes (one RIE process = one execution at a time; more calls wait).
 * Control: GET /_testenv/invocations, DELETE /_testenv/invocations, POST /_testenv/throttle,
 * POST /_testenv/stopping {name} (its processes are about to be stopped), POST /_testenv/stopped {name}
 * (they are gone: resolves once the calls they had in flight ended), GET /_testenv/stats?name=
 * ({ throttled, killedInFlight }). Both counts are the front's own: 429s it answered from injected
 * throttling, and calls it had forwarded to an RIE that was stopped before it answered (those
 * invocation records get `killed: true`, status 502 ServiceException).
 */
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const [runDir, portArg] = process.argv.slice(2);
const lambdasDir = path.join(runDir, 'lambdas');
const REGION = process.env.AWS_REGION || 'us-east-1';
const ACCOUNT = '000000000000';
const MAX_PAYLOAD = 6 * 1024 * 1024;

const throttles = new Map(); // name -> remaining 429 answers
const pools = new Map(); // name -> { busy: Set<port>, waiting: [resolve] } (one execution per RIE process)
const stats = new Map(); // name -> { throttled, killedInFlight }
const statsOf = (name) => stats.get(name) || stats.set(name, { throttled: 0, killedInFlight: 0 }).get(name);
const invocations = []; // { requestId, name, type, status, functionError, payload, response, at, doneAt }

function readBody(req) {
  return new Promise((resolve) => {
    const c = [];
    req.on('data', (d) => c.push(d));
    req.on('end', () => resolve(Buffer.concat(c)));
  });
}

/** AWS JSON error: the SDK reads the code from x-amzn-errortype and the message from the body. */
function sendError(res, status, type, message, extra = {}) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': type,
    'x-amzn-requestid': crypto.randomUUID(),
  });
  res.end(JSON.stringify({ Type: 'User', message, ...extra }));
}

/** "name", "name:qual", "123456789012:function:name[:qual]", "arn:aws:lambda:r:a:function:name[:qual]". */
function parseFunctionName(raw, qualifierParam) {
  let s = decodeURIComponent(raw);
  let qualifier = qualifierParam || undefined;
  if (s.startsWith('arn:')) s = s.split(':').slice(6).join(':');
  else if (/^\d{12}:function:/.test(s)) s = s.split(':').slice(2).join(':');
  const [name, q] = s.split(':');
  return { name, qualifier: q || qualifier };
}

function lookup(name) {
  if (!/^[A-Za-z0-9_-]{1,140}$/.test(name)) return null;
  try {
    return JSON.parse(fs.readFileSync(path.join(lambdasDir, `${name}.json`), 'utf8'));
  } catch {
    return null;
  }
}

/** The RIE ports of a registered function (one, or one per concurrent execution). */
const portsOf = (fn) => fn.ports || [fn.port];
/** The log of the RIE process behind a port (each concurrent execution has its own). */
const logOf = (fn, port) => (fn.logFiles && fn.logFiles[portsOf(fn).indexOf(port)]) || fn.logFile;

/** Runs task(port) on a free RIE process of the function, waiting for one when all are busy. */
async function withInstance(name, fn, task) {
  const pool = pools.get(name) || pools.set(name, { busy: new Set(), waiting: [] }).get(name);
  let port;
  while ((port = portsOf(fn).find((p) => !pool.busy.has(p))) === undefined) await new Promise((r) => pool.waiting.push(r));
  pool.busy.add(port);
  try {
    return await task(port);
  } finally {
    pool.busy.delete(port);
    const next = pool.waiting.shift();
    if (next) next();
  }
}

function logSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readLogTail(file, from) {
  try {
    const size = logSize(file);
    const start = Math.max(from, size - 4096);
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    fs.closeSync(fd);
    return buf.toString('base64');
  } catch {
    return '';
  }
}

/** Forward one invocation to the RIE; resolves { status, headers, body }. */
function callRie(port, payload, headers) {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/2015-03-31/functions/function/invocations',
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          ...(headers['x-amz-client-context'] ? { 'x-amz-client-context': headers['x-amz-client-context'] } : {}),
          ...(headers['x-amzn-trace-id'] ? { 'x-amzn-trace-id': headers['x-amzn-trace-id'] } : {}),
        },
      },
      (res) => {
        const c = [];
        res.on('data', (d) => c.push(d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(c) }));
      },
    );
    req.on('error', (e) =>
      resolve({
        status: 502,
        headers: {},
        body: Buffer.from(JSON.stringify({ errorType: 'ServiceException', errorMessage: `RIE unreachable: ${e.message}` })),
        serviceError: true,
      }),
    );
    req.end(payload);
  });
}

/**
 * The official RIE answers handler errors and timeouts with a plain 200; recognise them so callers
 * get FunctionError like from the real service.
 */
function detectFunctionError(r) {
  if (r.headers['x-amz-function-error']) return { fe: r.headers['x-amz-function-error'], body: r.body };
  const text = r.body.toString('utf8');
  const t = text.match(/^Task timed out after ([\d.]+) seconds$/);
  if (t) return { fe: 'Unhandled', body: Buffer.from(JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage: text })) };
  try {
    const j = JSON.parse(text);
    if (
      j &&
      typeof j === 'object' &&
      typeof j.errorType === 'string' &&
      typeof j.errorMessage === 'string' &&
      Object.keys(j).every((k) => ['errorType', 'errorMessage', 'trace', 'stackTrace', 'requestId'].includes(k))
    ) {
      return { fe: 'Unhandled', body: r.body };
    }
  } catch {
    /* not JSON: a normal result */
  }
  return { fe: undefined, body: r.body };
}

async function handleInvoke(req, res, rawName, query) {
  const { name, qualifier } = parseFunctionName(rawName, query.get('Qualifier'));
  const fn = lookup(name);
  const arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}${qualifier ? `:${qualifier}` : ''}`;
  if (!fn) return sendError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
  const payload = await readBody(req);
  if (payload.length > MAX_PAYLOAD) {
    return sendError(
      res,
      413,
      'RequestTooLargeException',
      `Request must be smaller than ${MAX_PAYLOAD} bytes for the InvokeFunction operation`,
    );
  }
  const type = req.headers['x-amz-invocation-type'] || 'RequestResponse';
  if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) {
    return sendError(res, 400, 'InvalidParameterValueException', `Unsupported invocation type ${type}`);
  }
  if (type === 'DryRun') {
    res.writeHead(204, { 'x-amzn-requestid': crypto.randomUUID() });
    return res.end();
  }
  const left = throttles.get(name) || 0;
  if (left > 0) {
    throttles.set(name, left - 1);
    statsOf(name).throttled++;
    return sendError(res, 429, 'TooManyRequestsException', 'Rate Exceeded.', {
      Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
    });
  }
  // The access key the caller signed with (SigV4 "Credential=<key>/<date>/..."): which identity invoked.
  const accessKeyId = /Credential=([^/,\s]+)\//.exec(req.headers.authorization || '')?.[1];
  const record = {
    requestId: crypto.randomUUID(),
    name,
    qualifier,
    type,
    accessKeyId,
    at: Date.now(),
    payload: payload.toString('utf8'),
  };
  invocations.push(record);
  const work = () =>
    withInstance(name, fn, async (port) => {
      record.at = Date.now(); // the execution starts now (it may have waited for a free instance)
      const logFile = logOf(fn, port);
      const from = logSize(logFile);
      record.forwarded = true; // from here a stop of the function cuts this call off
      let r = await callRie(port, payload.length ? payload : Buffer.from('{}'), req.headers);
      // Killed in flight: the function's processes were being stopped while the RIE held the call. It ends as Lambda
      // ends a call whose sandbox died, an error, whatever the RIE managed to answer: when the runtime's exit beats
      // the kill of the RIE, the RIE may answer a plain 200 that would read as the function's success.
      if (record.stopping) {
        if (!r.serviceError) {
          const body = { errorType: 'ServiceException', errorMessage: 'the function was stopped during the call' };
          r = { status: 502, headers: {}, body: Buffer.from(JSON.stringify(body)), serviceError: true };
        }
        record.killed = true;
        statsOf(name).killedInFlight++;
      }
      delete record.forwarded;
      delete record.stopping;
      const { fe, body } = detectFunctionError(r);
      Object.assign(record, { status: r.status, functionError: fe, response: body.toString('utf8'), doneAt: Date.now() });
      return { r, fe, body, from, logFile };
    });
  if (type === 'Event') {
    work().catch(() => {});
    res.writeHead(202, { 'x-amzn-requestid': record.requestId });
    return res.end();
  }
  const { r, fe, body, from, logFile } = await work();
  if (r.serviceError) return sendError(res, 502, 'ServiceException', r.body.toString('utf8'));
  const headers = {
    'content-type': 'application/json',
    'x-amzn-requestid': record.requestId,
    'x-amz-executed-version': qualifier && /^\d+$/.test(qualifier) ? qualifier : '$LATEST',
  };
  if (fe) headers['x-amz-function-error'] = fe;
  if (req.headers['x-amz-log-type'] === 'Tail') headers['x-amz-log-result'] = readLogTail(logFile, from);
  res.writeHead(200, headers);
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    let m;
    if (req.method === 'POST' && (m = url.pathname.match(/^\/2015-03-31\/functions\/([^/]+)\/invocations$/))) {
      return await handleInvoke(req, res, m[1], url.searchParams);
    }
    if (url.pathname === '/_testenv/throttle' && req.method === 'POST') {
      const { name, count } = JSON.parse((await readBody(req)).toString('utf8'));
      throttles.set(name, Number(count) || 0);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ name, count: throttles.get(name) }));
    }
    if (url.pathname === '/_testenv/invocations') {
      if (req.method === 'DELETE') invocations.length = 0;
      const name = url.searchParams.get('name');
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(invocations.filter((i) => !name || i.name === name)));
    }
    if ((url.pathname === '/_testenv/stopping' || url.pathname === '/_testenv/stopped') && req.method === 'POST') {
      const { name } = JSON.parse((await readBody(req)).toString('utf8'));
      const forwarded = () => invocations.filter((i) => i.name === name && i.forwarded);
      if (url.pathname === '/_testenv/stopping') {
        // The function's processes are about to be stopped: calls at an RIE now may be cut off.
        for (const i of forwarded()) i.stopping = true;
      } else {
        // The processes are gone: their calls end with the connection; wait for that (bounded).
        const until = Date.now() + 10000;
        while (forwarded().some((i) => i.stopping) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ name, ...statsOf(name) }));
    }
    if (url.pathname === '/_testenv/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(statsOf(url.searchParams.get('name'))));
    }
    if (url.pathname === '/_testenv/health') {
      res.writeHead(200);
      return res.end('ok');
    }
    sendError(
      res,
      404,
      'UnknownOperationException',
      `Not implemented by the testenv Lambda front: ${req.method} ${url.pathname}`,
    );
  } catch (e) {
    if (!res.headersSent) sendError(res, 500, 'ServiceException', e.message);
  }
});
server.listen(Number(portArg), '127.0.0.1', () =>
  console.log(`lambda-front listening on 127.0.0.1:${portArg}, registry ${lambdasDir}`),
);
process.on('SIGTERM', () => process.exit(0));
