'use strict';
/**
 * Redrive beside the emulator's normal delivery, in one run, to the same function: the dispatcher bundle
 * (assets/dispatcher, idempotency in DynamoDB Local) in front of a fast target (test/fixtures/targets' echo), both
 * under the Lambda emulator with PARTITIONS instances each. Each row delivers `records` small records, each row and
 * repetition on topics of its own (the dispatcher's idempotency would otherwise skip them):
 * - local: the records on a topic, delivered by `cdk-kafka-lambda local` (LocalEventSourceMapping, batch size
 *   BATCH, no batching window) from TRIM_HORIZON;
 * - error topic: error records carrying their records' bytes (errorRecordMessage, one per BATCH records), redriven
 *   with `cdk-kafka-lambda redrive --from-error-topic`;
 * - sqs: on-failure records (KafkaBatchInfo, one per BATCH offsets) in a moto queue, whose records are on the source
 *   topic, redriven with `redrive --from-sqs` (read again from Kafka by offset, each message deleted once done).
 * Two rates per row, both over `records`: the delivery window, first invocation of the dispatcher to the end of the
 * last (the Lambda front's times: the same clock for the three rows), and the whole run: for the redrives the
 * redrive() call (source read, records read again, invocations, deletes), for local start() to the last commit
 * (its group join included). The command's code is the tree's TypeScript (cli/, runtime/), loaded with tsx.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { randomUUID } = require('crypto');
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
const { SQSClient, CreateQueueCommand, SendMessageBatchCommand, GetQueueAttributesCommand } = require('@aws-sdk/client-sqs');
const { ROOT, median, jsonOfSize, kafkaEvent } = require('./common');
const { createTable } = require('./idempotency');

const BATCH = 100;
const PARTITIONS = 2;
const VALUE_BYTES = 100;
const ROWS = ['local', 'error_topic', 'sqs'];

/** The command's TypeScript, as the CLI bundle compiles it (not build/, which `npm run build` may not have refreshed). */
function commandModules() {
  require('tsx/cjs/api').register();
  return {
    ...require(path.join(ROOT, 'cli', 'kafka', 'esm.ts')),
    ...require(path.join(ROOT, 'cli', 'redrive', 'options.ts')),
    ...require(path.join(ROOT, 'cli', 'redrive', 'redrive.ts')),
    ...require(path.join(ROOT, 'runtime', 'kafka', 'error-records.ts')),
    ...require(path.join(ROOT, 'contract', 'dispatcher-config.ts')),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The row's records as the mapping's event carries them: offsets from 0 on each partition, round robin. */
function esmRecords(topic, records) {
  return Array.from({ length: records }, (_, i) => ({
    topic,
    partition: i % PARTITIONS,
    offset: Math.floor(i / PARTITIONS),
    timestamp: 1765000000000 + i,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(`order-${i}`).toString('base64'),
    value: Buffer.from(JSON.stringify(jsonOfSize(i, VALUE_BYTES))).toString('base64'),
    headers: [],
  }));
}

/** Per partition, runs of BATCH consecutive records: what one failed batch holds. */
function failedBatches(records) {
  const out = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const mine = records.filter((r) => r.partition === p);
    for (let i = 0; i < mine.length; i += BATCH) out.push(mine.slice(i, i + BATCH));
  }
  return out;
}

/** Sends in requests of at most ~512 KB: under the broker's default message.max.bytes (1 MB) for a batch. */
async function produce(producer, topic, messages) {
  let chunk = [];
  let bytes = 0;
  for (const msg of messages) {
    const size = Buffer.byteLength(msg.value) + Buffer.byteLength(msg.key ?? '') + 64;
    if (chunk.length && bytes + size > 512 * 1024) {
      await producer.send({ topic, messages: chunk });
      chunk = [];
      bytes = 0;
    }
    chunk.push(msg);
    bytes += size;
  }
  if (chunk.length) await producer.send({ topic, messages: chunk });
}

/** The on-failure record the mapping writes for a batch (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html). */
function onFailureRecord(batch, bootstrapServers) {
  const at = new Date().toISOString();
  const first = batch[0];
  const last = batch[batch.length - 1];
  return JSON.stringify({
    requestContext: {
      requestId: randomUUID(),
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: at,
    KafkaBatchInfo: {
      batchSize: batch.length,
      bootstrapServers,
      payloadSize: 1000,
      recordsInfo: {
        [`${first.topic}-${first.partition}`]: {
          firstRecordOffset: String(first.offset),
          lastRecordOffset: String(last.offset),
          firstRecordTimestamp: at,
          lastRecordTimestamp: at,
        },
      },
    },
  });
}

async function benchRedrive(te, env, { records, runs }, log) {
  if (records % (BATCH * PARTITIONS) !== 0) throw new Error(`records must be a multiple of ${BATCH * PARTITIONS}`);
  const dispatcherDir = path.join(ROOT, 'assets', 'dispatcher');
  if (!fs.existsSync(path.join(dispatcherDir, 'index.js')))
    throw new Error(`${dispatcherDir} is missing: run npm run build first`);
  const m = commandModules();
  const { Kafka, logLevel } = require('kafkajs');
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext', {}, env), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const ddb = new DynamoDBClient(te.awsClientConfig('dynamodb', env));
  const sqs = new SQSClient(te.awsClientConfig('sqs', env));
  const lambda = new LambdaClient(te.awsClientConfig('lambda', env));
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-redrive-'));
  const id = Date.now().toString(36);
  const fns = [];
  const bootstrap = env.kafka.bootstrap.plaintext;
  try {
    const target = await te.startLambda(
      {
        name: `bench-redrive-target-${id}`,
        dir: path.join(ROOT, 'test', 'fixtures', 'targets'),
        handler: 'index.echo',
        concurrency: PARTITIONS,
      },
      env,
    );
    fns.push(target);
    const table = `bench-redrive-${id}`;
    await createTable(ddb, table);
    const { DEFAULTS } = m;
    const config = {
      version: 2,
      target: {
        functionName: target.name,
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: DEFAULTS.recordsPerInvocation,
        concurrency: DEFAULTS.concurrency,
        maxAttempts: DEFAULTS.maxAttempts,
        baseDelayMs: DEFAULTS.baseDelayMs,
        maxDelayMs: DEFAULTS.maxDelayMs,
        timeoutMs: 30_000,
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
    };
    const dispatcher = await te.startLambda(
      {
        name: `bench-redrive-dispatcher-${id}`,
        dir: dispatcherDir,
        env: { [m.DISPATCHER_CONFIG_ENV]: JSON.stringify(config), POWERTOOLS_SERVICE_NAME: 'bench-redrive' },
        timeoutSeconds: 60,
        memoryMb: 512,
        concurrency: PARTITIONS,
      },
      env,
    );
    fns.push(dispatcher);
    // Every instance of both functions initialized before anything is timed.
    for (let w = 0; w < 2; w++)
      await Promise.all(
        Array.from({ length: PARTITIONS }, async (_, k) => {
          const event = kafkaEvent(BATCH, {
            topic: `bench-redrive-warmup-${id}-${w}-${k}`,
            partitions: 1,
            valueBytes: VALUE_BYTES,
          });
          const out = await lambda.send(
            new InvokeCommand({ FunctionName: dispatcher.name, Payload: Buffer.from(JSON.stringify(event)) }),
          );
          if (out.FunctionError) throw new Error(`warm-up: ${Buffer.from(out.Payload).toString('utf8')}`);
        }),
      );

    /** The dispatcher's and the target's invocations since `mark`; throws unless the target got exactly the row's records. */
    const invocationsSince = async (mark, topic) => {
      const calls = (await te.listInvocations(dispatcher.name, env)).slice(mark.dispatcher);
      const bad = calls.filter((c) => c.functionError || c.status !== 200);
      if (bad.length) throw new Error(`${topic}: ${bad.length} dispatcher invocations failed: ${bad[0].response}`);
      const got = (await te.listInvocations(target.name, env))
        .slice(mark.target)
        .flatMap((c) => JSON.parse(c.payload))
        .filter((e) => e.payload.topic === topic);
      const distinct = new Set(got.map((e) => `${e.payload.partition}@${e.payload.offset}`));
      if (got.length !== records || distinct.size !== records)
        throw new Error(`${topic}: the target got ${got.length} records (${distinct.size} distinct), expected ${records}`);
      return calls;
    };
    const mark = async () => ({
      dispatcher: (await te.listInvocations(dispatcher.name, env)).length,
      target: (await te.listInvocations(target.name, env)).length,
    });
    const windowMs = (calls) => Math.max(...calls.map((c) => c.doneAt)) - Math.min(...calls.map((c) => c.at));

    const redrive = async (source, stateFile) => {
      const lines = [];
      const summary = await m.redrive(
        m.parseRedriveArgs([
          ...source,
          '--bootstrap-servers',
          bootstrap,
          '--function-name',
          dispatcher.name,
          '--lambda-endpoint',
          env.lambda.endpoint,
          '--aws-endpoint',
          env.moto.endpoint,
          '--region',
          env.region,
          '--state-file',
          stateFile,
          '--batch-size',
          String(BATCH),
        ]),
        { out: (l) => lines.push(l), err: () => undefined },
      );
      if (summary.redriven !== records || summary.alreadyDone || summary.failedAgain || summary.expired || summary.unreadable)
        throw new Error(`redrive ${source.join(' ')}: ${lines.join(' | ')}, expected ${records} redriven`);
      return summary;
    };

    const rows = {
      /** The records on a fresh topic, then the local mapping from TRIM_HORIZON until all are committed. */
      async local(topic) {
        await te.createTopic(topic, PARTITIONS, env);
        const recs = esmRecords(topic, records);
        await produce(
          producer,
          topic,
          recs.map((r) => ({ partition: r.partition, key: Buffer.from(r.key, 'base64'), value: Buffer.from(r.value, 'base64') })),
        );
        const before = await mark();
        const mapping = new m.LocalEventSourceMapping({
          kafka: te.kafkaClientConfig('plaintext', {}, env),
          topics: [topic],
          functionName: dispatcher.name,
          lambdaEndpoint: env.lambda.endpoint,
          region: env.region,
          awsEndpoint: env.moto.endpoint,
          startingPosition: 'TRIM_HORIZON',
          batchSize: BATCH,
          maxBatchingWindowSeconds: 0,
          log: () => undefined,
        });
        const started = performance.now();
        const running = mapping.start();
        const until = Date.now() + 180_000;
        try {
          while (mapping.stats.recordsCommitted < records) {
            if (Date.now() > until) throw new Error(`local: ${mapping.stats.recordsCommitted} of ${records} committed in 180 s`);
            await sleep(5);
          }
        } finally {
          await running.catch(() => undefined);
          await mapping.stop();
        }
        const runMs = performance.now() - started;
        const calls = await invocationsSince(before, topic);
        return { runMs, windowMs: windowMs(calls), invocations: calls.length };
      },
      /** Error records carrying the records' bytes (the source topic itself is not needed), then redrive --from-error-topic. */
      async error_topic(topic) {
        const errorTopic = `${topic}-errors`;
        await te.createTopic(errorTopic, 1, env);
        const messages = failedBatches(esmRecords(topic, records)).map((batch) =>
          m.errorRecordMessage({
            topic,
            partition: batch[0].partition,
            startOffset: batch[0].offset,
            endOffset: batch[batch.length - 1].offset + 1,
            functionName: dispatcher.name,
            details: { statusCode: 200, functionError: 'Unhandled' },
            records: batch,
          }),
        );
        await produce(producer, errorTopic, messages);
        const before = await mark();
        const started = performance.now();
        await redrive(['--from-error-topic', errorTopic], path.join(stateDir, `${topic}.json`));
        const runMs = performance.now() - started;
        const calls = await invocationsSince(before, topic);
        return { runMs, windowMs: windowMs(calls), invocations: calls.length };
      },
      /** The records on the source topic, their on-failure records in a queue, then redrive --from-sqs. */
      async sqs(topic) {
        await te.createTopic(topic, PARTITIONS, env);
        const recs = esmRecords(topic, records);
        await produce(
          producer,
          topic,
          recs.map((r) => ({ partition: r.partition, key: Buffer.from(r.key, 'base64'), value: Buffer.from(r.value, 'base64') })),
        );
        const url = (await sqs.send(new CreateQueueCommand({ QueueName: topic }))).QueueUrl;
        const bodies = failedBatches(recs).map((b) => onFailureRecord(b, bootstrap));
        for (let i = 0; i < bodies.length; i += 10)
          await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: url,
              Entries: bodies.slice(i, i + 10).map((MessageBody, k) => ({ Id: String(k), MessageBody })),
            }),
          );
        const before = await mark();
        const started = performance.now();
        await redrive(['--from-sqs', url], path.join(stateDir, `${topic}.json`));
        const runMs = performance.now() - started;
        const calls = await invocationsSince(before, topic);
        const left = (
          await sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: url,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          )
        ).Attributes;
        if (Number(left.ApproximateNumberOfMessages) + Number(left.ApproximateNumberOfMessagesNotVisible) !== 0)
          throw new Error(`sqs: messages left in ${url}: ${JSON.stringify(left)}`);
        return { runMs, windowMs: windowMs(calls), invocations: calls.length };
      },
    };

    // The rows take turns, their order rotating from one repetition to the next, so each sees about the same load.
    const measured = Object.fromEntries(ROWS.map((r) => [r, []]));
    for (let run = 0; run < runs; run++) {
      for (let k = 0; k < ROWS.length; k++) {
        const row = ROWS[(run + k) % ROWS.length];
        const x = await rows[row](`bench-redrive-${row.replace('_', '-')}-${id}-${run}`);
        measured[row].push(x);
        log(
          `redrive ${row} run ${run + 1}: ${records} records, ${x.invocations} dispatcher invocations, delivered in ${Math.round(x.windowMs)} ms ` +
            `(${Math.round(records / (x.windowMs / 1000))} records/s), whole run ${Math.round(x.runMs)} ms (${Math.round(records / (x.runMs / 1000))} records/s)`,
        );
      }
    }
    const rps = (row, k) => Math.round(median(measured[row].map((x) => records / (x[k] / 1000))));
    return {
      records,
      records_per_batch: BATCH,
      partitions: PARTITIONS,
      value_bytes: VALUE_BYTES,
      runs,
      local_rps: rps('local', 'windowMs'),
      local_run_rps: rps('local', 'runMs'),
      error_topic_rps: rps('error_topic', 'runMs'),
      error_topic_delivery_rps: rps('error_topic', 'windowMs'),
      sqs_rps: rps('sqs', 'runMs'),
      sqs_delivery_rps: rps('sqs', 'windowMs'),
    };
  } finally {
    await producer.disconnect();
    await Promise.all(fns.map((f) => f.stop()));
    ddb.destroy();
    sqs.destroy();
    lambda.destroy();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

module.exports = { benchRedrive };
