/**
 * The connector key tables: what each key of Confluent's AWS Lambda sink connector, Nordstrom's kafka-connect-lambda
 * and Kafka Connect itself becomes on a LambdaSinkConnector (../../docs/migrating.md gives the same as a table).
 * Each handler accounts for the keys it reads; security settings are in ./security-keys.ts.
 */
import { call, enumMember, obj, THIS } from './codegen';
import { ConnectorKind, Derivation } from './derivation';

export const CONFLUENT_CLASS = 'io.confluent.connect.aws.lambda.AwsLambdaSinkConnector';
export const NORDSTROM_CLASS = 'com.nordstrom.kafka.connect.lambda.LambdaSinkConnector';

/** Which connector a config is of, from connector.class (its simple name too), else from its keys. */
export function detectConnector(config: Record<string, string>): ConnectorKind | undefined {
  const cls = config['connector.class']?.trim();
  if (cls === CONFLUENT_CLASS || cls === 'AwsLambdaSinkConnector') return 'confluent';
  if (cls === NORDSTROM_CLASS || cls?.startsWith('com.nordstrom.kafka.connect.lambda')) return 'nordstrom';
  if (cls) return undefined;
  if ('aws.lambda.function.arn' in config || 'aws.lambda.invocation.mode' in config) return 'nordstrom';
  if ('aws.lambda.function.name' in config || 'aws.lambda.invocation.type' in config) return 'confluent';
  return undefined;
}

/** name, connector.class, topics, topics.regex. */
export function identityKeys(d: Derivation, constructId: string): void {
  d.row('name', 'mapped', `the connector's name; its consumer group was connect-${d.name}`, `construct id '${constructId}'`);
  d.row('connector.class', 'not needed', 'it names the connector this plan reads');
  const listed = (d.get('topics') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  // Connect subscribes to the set of topics; the construct wants each once (one mapping per topic).
  const topics = [...new Set(listed)];
  if (topics.length < listed.length)
    d.notes.push(`topics lists ${listed.length - topics.length} topic(s) more than once: the code lists each once.`);
  for (const t of topics.filter((x) => x.length < 2))
    d.notes.push(`topic "${t}": an event source mapping takes topic names of 2–249 characters; synth refuses it.`);
  d.set('topics', topics, 'topics');
  d.mapped('topics', 'topics', 'one event source mapping, and one consumer group, per topic');
  const regex = d.get('topics.regex');
  d.row(
    'topics.regex',
    'not supported',
    `an event source mapping reads one named topic and does not follow new ones; nearest: list the topics that match ${regex ?? ''} in topics (one mapping each)`,
  );
  if (regex !== undefined) {
    d.notes.push(
      `topics.regex ${regex}: list the topics it matches today in \`topics\`${topics.length ? '' : ' (the code has none yet: synth refuses it until you do)'}, and add a topic created later to it.`,
    );
  }
}

/** The function, its region and how it is invoked. */
export function functionKeys(d: Derivation): void {
  const ref = d.get('aws.lambda.function.arn') ?? d.get('aws.lambda.function.name');
  const key = d.has('aws.lambda.function.arn') ? 'aws.lambda.function.arn' : 'aws.lambda.function.name';
  const arn = ref?.startsWith('arn:');
  // An ARN's account may not be the stack's: skipPermissions grants the dispatcher's role only (an imported function's
  // resource policy cannot be changed); a function in another account needs its owner's grant, as the connector did.
  const target = arn
    ? call('lambda.Function.fromFunctionAttributes', THIS, 'Target', obj({ functionArn: ref!, skipPermissions: true }))
    : call('lambda.Function.fromFunctionName', THIS, 'Target', ref ?? 'REPLACE-ME-function-name');
  d.set('target', target, key);
  d.mapped(
    key,
    'target',
    arn
      ? "lambda.Function.fromFunctionAttributes with skipPermissions: the dispatcher's role is granted lambda:InvokeFunction; in another account the function's resource policy must admit it"
      : "lambda.Function.fromFunctionName, in the stack's account and region",
  );
  if (ref === undefined) d.notes.push(`The config names no function (${key}): replace REPLACE-ME-function-name.`);
  for (const k of ['aws.region', 'aws.lambda.region']) {
    d.mapped(k, "the stack's env.region", 'the dispatcher invokes the function in its own region: deploy the stack there');
  }
  invocationKeys(d);
}

function invocationKeys(d: Derivation): void {
  const key = d.kind === 'confluent' ? 'aws.lambda.invocation.type' : 'aws.lambda.invocation.mode';
  const mode = d.get(key)?.toLowerCase() ?? 'sync';
  const async = mode === 'async';
  d.set('invocationType', enumMember('DispatcherInvocationType', async ? 'EVENT' : 'REQUEST_RESPONSE'), key);
  d.mapped(
    key,
    'invocationType',
    async ? 'Event: fire and forget, Lambda retries the function itself; nothing is relayed' : 'RequestResponse',
  );
  const timeout = d.get('aws.lambda.invocation.timeout.ms');
  if (timeout !== undefined) {
    const seconds = Math.ceil(Number(timeout) / 1000);
    if (Number.isFinite(seconds) && seconds > 0 && seconds <= 14 * 60) {
      d.set('dispatcherTimeout', call('cdk.Duration.seconds', seconds), 'aws.lambda.invocation.timeout.ms');
      d.mapped(
        'aws.lambda.invocation.timeout.ms',
        'dispatcherTimeout',
        'the dispatcher function waits for the target this long at most',
      );
    } else {
      d.row(
        'aws.lambda.invocation.timeout.ms',
        'not supported',
        'the dispatcher is a Lambda function (at most 15 minutes); nearest: dispatcherTimeout up to Duration.minutes(14)',
      );
    }
  }
}

/** Records per invocation, per mapping batch, and the payload format. */
export function batchKeys(d: Derivation): void {
  const size = d.get('aws.lambda.batch.size');
  if (size !== undefined && /^\d+$/.test(size) && +size >= 1 && +size <= 10000) {
    d.set('recordsPerInvocation', +size, 'aws.lambda.batch.size');
    d.mapped(
      'aws.lambda.batch.size',
      'recordsPerInvocation',
      'records of one topic-partition per invocation, under the payload limit, as the connector batched',
    );
  } else d.row('aws.lambda.batch.size', 'not supported', 'recordsPerInvocation takes 1–10000');
  const enabled = d.get('aws.lambda.batch.enabled');
  if (d.kind === 'nordstrom' && enabled?.toLowerCase() === 'false') {
    d.set('recordsPerInvocation', 1, 'aws.lambda.batch.enabled');
    d.mapped(
      'aws.lambda.batch.enabled',
      'recordsPerInvocation',
      'one record per invocation; the payload is still an array (of one record): the function reads event[0] instead of event',
    );
    d.notes.push('aws.lambda.batch.enabled=false: the target now receives an array of one record; read its first element.');
  } else {
    d.mapped(
      'aws.lambda.batch.enabled',
      'recordsPerInvocation',
      "batches (default 100 records of one topic-partition); the connector sent each poll's records of a partition",
    );
  }
  const poll = d.get('consumer.override.max.poll.records');
  if (poll !== undefined && /^\d+$/.test(poll) && +poll >= 1 && +poll <= 10000) {
    d.set('batchSize', +poll, 'consumer.override.max.poll.records');
    d.mapped('consumer.override.max.poll.records', 'batchSize', "records per event source mapping batch (the mapping's poll)");
  } else d.row('consumer.override.max.poll.records', 'not supported', 'batchSize takes 1–10000');
  payloadKeys(d);
}

const FORMATTERS: Record<string, string> = {
  'com.nordstrom.kafka.connect.formatters.PlainPayloadFormatter': 'NORDSTROM_PLAIN',
  'com.nordstrom.kafka.connect.formatters.JsonPayloadFormatter': 'NORDSTROM_JSON',
};

function payloadKeys(d: Derivation): void {
  if (d.kind === 'confluent') {
    d.set('payloadFormat', enumMember('DispatcherPayloadFormat', 'CONFLUENT'));
    return;
  }
  const cls = d.get('payload.formatter.class') ?? 'com.nordstrom.kafka.connect.formatters.PlainPayloadFormatter';
  const format = FORMATTERS[cls];
  d.set('payloadFormat', enumMember('DispatcherPayloadFormat', format ?? 'NORDSTROM_PLAIN'), 'payload.formatter.class');
  if (format) d.mapped('payload.formatter.class', 'payloadFormat', `${format}: the formatter's fields, with headers`);
  else
    d.row(
      'payload.formatter.class',
      'not supported',
      "a formatter of your own; nearest: NORDSTROM_PLAIN, NORDSTROM_JSON or RAW (the mapping's event), or the pipeline in your function (SinkDispatch.IN_PROCESS)",
    );
  for (const k of d.open(/^payload\.formatter\.(key|value)\.schema\.visibility$/)) {
    const none = d.get(k)?.toLowerCase() === 'none';
    d.row(
      k,
      none ? 'not needed' : 'not supported',
      none
        ? 'the payload carries no Connect schema (keySchemaName/valueSchemaName are null)'
        : 'the dispatcher has no Connect schema, so schema names are null; nearest: decode registry-framed records to JSON with schemas',
    );
  }
}
