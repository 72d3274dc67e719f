#!/usr/bin/env node
/**
 * cdk-kafka-lambda local: runs the Kafka event source mapping locally against a real broker, or the Kinesis
 * one against a real Kinesis API (--stream, or a Kinesis mapping in --template).
 * Settings from flags, or from a JSON file shaped like the event source props (--config), flags winning.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { KAFKA_CLIENT_FLAGS, kafkaClientConfig } from './kafka/client-config';
import { LocalEsmConfigError, LocalEsmOptions, LocalEventSourceMapping, StartingPosition } from './kafka/esm';
import { LocalKinesisEsmOptions, LocalKinesisEventSourceMapping } from './kinesis/esm';
import { accessFlag, mergeSchemaRegistryProps, schemaRegistrySettings } from './kafka/schemas-config';
import { PropsFile, settingsFromTemplate } from './template';
import { REDRIVE_USAGE } from './redrive/options';
import { DOCTOR_USAGE } from './doctor/options';
import { doctorCommand } from './doctor/command';
import { MIGRATE_USAGE, migrateCommand } from './migrate/command';
import { ESM_LIMITS } from '../contract/esm-limits';

const BATCH_SIZE = ESM_LIMITS.batchSize.join('-');
const PARALLELIZATION = ESM_LIMITS.parallelizationFactor.join('-');

const USAGE = `usage: cdk-kafka-lambda local --bootstrap-servers host:port[,…] --topic T [--topic T2]
  (--function-name NAME [--lambda-endpoint URL] | --handler path/module.export)
  [--template cdk.out/STACK.template.json [--mapping LOGICAL_ID]] [--config props.json] [--consumer-group-id ID] [--starting-position LATEST|TRIM_HORIZON|AT_TIMESTAMP]
  [--starting-position-timestamp EPOCH_SECONDS] [--batch-size ${BATCH_SIZE}] [--batching-window SECONDS]
  [--retry-attempts N|-1] [--max-record-age SECONDS|-1] [--bisect] [--report-batch-item-failures]
  [--filter '{"value":{"type":["order"]}}' …]
  [--schema-registry URL|GLUE_REGISTRY_ARN --event-record-format JSON|SOURCE --schema-validate KEY|VALUE …
   [--schema-registry-access BASIC_AUTH|CLIENT_CERTIFICATE_TLS_AUTH|SERVER_ROOT_CA_CERTIFICATE=SECRET_ARN …]]
  [--on-failure arn:aws:sqs|sns|s3:…|kafka://topic] [--aws-endpoint URL] [--region R]
  [--event-source-arn MSK_CLUSTER_ARN] [--sasl scram-sha-256|scram-sha-512|plain --username U --password P | --msk-iam]
  [--tls] [--ca-file PEM] [--cert-file PEM --key-file PEM]
  [--stall-timeout SECONDS]   restart the consumer when records stay behind the high watermark with no batch
                              started or finished for SECONDS (plus the batching window) while it is still in
                              its group (a stalled kafkajs fetch); a slow batch is not a stall; 0: never (default 20)
   or: cdk-kafka-lambda local --stream NAME|ARN [--kinesis-endpoint URL]
  (--function-name NAME [--lambda-endpoint URL] | --handler path/module.export)
  [--template cdk.out/STACK.template.json [--mapping LOGICAL_ID]] [--config props.json] [--starting-position LATEST|TRIM_HORIZON|AT_TIMESTAMP]
  [--starting-position-timestamp EPOCH_SECONDS] [--batch-size ${BATCH_SIZE}] [--batching-window SECONDS] [--parallelization-factor ${PARALLELIZATION}]
  [--retry-attempts N|-1] [--max-record-age SECONDS|-1] [--bisect] [--report-batch-item-failures]
  [--on-failure arn:aws:sqs|sns|s3:…] [--aws-endpoint URL] [--region R] [--checkpoint-file PATH]`;

const COMMANDS = `cdk-kafka-lambda <command> [--help]
  local     run an event source mapping on this machine against a real broker or Kinesis API
  redrive   send the records of failed batches again (on-failure records in SQS or S3, the error topic)
  doctor    check what a Kafka mapping will need from its cluster, each step with the problem it would cause
  migrate   move a Kafka Connect Lambda sink connector to LambdaSinkConnector: plan (the code), offsets (the groups)`;

export type Command = { kind: 'kafka'; options: LocalEsmOptions } | { kind: 'kinesis'; options: LocalKinesisEsmOptions };

/**
 * Settings, later ones winning: the event source mapping of a synthesized template (--template), a props
 * JSON file (--config), flags. What the template holds but cannot be used locally is reported to notice().
 */
export function parseCli(argv: string[], notice: (line: string) => void = () => undefined): LocalEsmOptions {
  const command = parseCommand(argv, notice);
  if (command.kind !== 'kafka') throw new LocalEsmConfigError('these are the settings of a Kinesis mapping, not a Kafka one');
  return command.options;
}

/** The command line's flags, as node:util's parseArgs reads them. */
const FLAGS = {
  template: { type: 'string' },
  mapping: { type: 'string' },
  config: { type: 'string' },
  'bootstrap-servers': { type: 'string' },
  topic: { type: 'string', multiple: true },
  'function-name': { type: 'string' },
  'lambda-endpoint': { type: 'string' },
  handler: { type: 'string' },
  'consumer-group-id': { type: 'string' },
  'starting-position': { type: 'string' },
  'starting-position-timestamp': { type: 'string' },
  'batch-size': { type: 'string' },
  'batching-window': { type: 'string' },
  'retry-attempts': { type: 'string' },
  'max-record-age': { type: 'string' },
  bisect: { type: 'boolean' },
  'report-batch-item-failures': { type: 'boolean' },
  'on-failure': { type: 'string' },
  filter: { type: 'string', multiple: true },
  'aws-endpoint': { type: 'string' },
  region: { type: 'string' },
  'event-source-arn': { type: 'string' },
  ...KAFKA_CLIENT_FLAGS,
  stream: { type: 'string' },
  'kinesis-endpoint': { type: 'string' },
  'parallelization-factor': { type: 'string' },
  'checkpoint-file': { type: 'string' },
  'stall-timeout': { type: 'string' },
  'schema-registry': { type: 'string' },
  'event-record-format': { type: 'string' },
  'schema-validate': { type: 'string', multiple: true },
  'schema-registry-access': { type: 'string', multiple: true },
} as const;

type Flags = ReturnType<typeof parseArgs<{ args: string[]; options: typeof FLAGS }>>['values'];

/** The settings the template and the props file give (the file winning), and the schema registry's merged with the flags'. */
interface FileSettings {
  readonly props: PropsFile;
  readonly fromTemplate?: ReturnType<typeof settingsFromTemplate>;
  readonly registry: ReturnType<typeof mergeSchemaRegistryProps>;
}

/** The mapping to run: Kinesis with --stream (or a stream in --config, or a Kinesis mapping in --template), else Kafka. */
export function parseCommand(argv: string[], notice: (line: string) => void = () => undefined): Command {
  const { values } = parseArgs({ args: argv, options: FLAGS });
  const settings = fileSettings(values, notice);
  const { props: p, fromTemplate, registry } = settings;
  // Every number flag is read first, so that a malformed one is named before what the mapping's kind lacks.
  const common = commonOptions(values, p);
  if (values.stream || p.stream || fromTemplate?.kind === 'kinesis') {
    if (registry)
      throw new LocalEsmConfigError(
        'a schema registry (--schema-registry, schemaRegistryConfig) applies to Kafka mappings only, not to a Kinesis stream',
      );
    return kinesisCommand(values, p, common);
  }
  return kafkaCommand(values, settings, common);
}

function fileSettings(values: Flags, notice: (line: string) => void): FileSettings {
  if (values.mapping && !values.template)
    throw new LocalEsmConfigError('--mapping chooses a mapping of --template; give --template too');
  const fromTemplate = values.template ? settingsFromTemplate(values.template, values.mapping) : undefined;
  for (const ignored of fromTemplate?.ignored ?? []) notice(`template: ${ignored}`);
  const config: PropsFile = values.config ? JSON.parse(fs.readFileSync(values.config, 'utf8')) : {};
  // The schema registry's settings merge field by field: a flag can give the secret a template resolves only at deploy time.
  const registry = mergeSchemaRegistryProps([
    fromTemplate?.props.schemaRegistryConfig,
    config.schemaRegistryConfig,
    {
      schemaRegistryUri: values['schema-registry'],
      eventRecordFormat: values['event-record-format'],
      schemaValidationConfigs: values['schema-validate']?.map((attribute) => ({ attribute })),
      accessConfigs: values['schema-registry-access']?.map(accessFlag),
    },
  ]);
  return { props: { ...fromTemplate?.props, ...config }, fromTemplate, registry };
}

/** A number flag's value, else the fallback. */
function num(flag: string, v: string | undefined, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new LocalEsmConfigError(`--${flag} must be a number, got "${v}"`);
  return n;
}

type CommonOptions = ReturnType<typeof commonOptions>;

/** The settings both mappings share. */
function commonOptions(values: Flags, p: PropsFile) {
  const ts = num('starting-position-timestamp', values['starting-position-timestamp'], p.startingPositionTimestamp);
  return {
    startingPosition: (values['starting-position'] ?? p.startingPosition) as StartingPosition | undefined,
    startingPositionTimestamp: ts === undefined ? undefined : ts * 1000,
    batchSize: num('batch-size', values['batch-size'], p.batchSize),
    maxBatchingWindowSeconds: num('batching-window', values['batching-window'], p.maxBatchingWindow),
    retryAttempts: num('retry-attempts', values['retry-attempts'], p.retryAttempts),
    maximumRecordAgeSeconds: num('max-record-age', values['max-record-age'], p.maxRecordAge),
    bisectBatchOnFunctionError: values.bisect ?? p.bisectBatchOnError,
    reportBatchItemFailures: values['report-batch-item-failures'] ?? p.reportBatchItemFailures,
    onFailure: values['on-failure'] ?? p.onFailure,
    functionName: values['function-name'],
    lambdaEndpoint: values['lambda-endpoint'],
    handler: values.handler,
    awsEndpoint: values['aws-endpoint'],
    region: values.region,
  };
}

function kinesisCommand(values: Flags, p: PropsFile, common: CommonOptions): Command {
  const stream = values.stream ?? p.stream;
  if (!stream)
    throw new LocalEsmConfigError(
      `--stream (or stream in --config) is required: the template's stream is resolved at deploy time\n${USAGE}`,
    );
  return {
    kind: 'kinesis',
    options: {
      ...common,
      stream,
      kinesisEndpoint: values['kinesis-endpoint'] ?? values['aws-endpoint'],
      parallelizationFactor: num('parallelization-factor', values['parallelization-factor'], p.parallelizationFactor),
      checkpointFile: values['checkpoint-file'],
    },
  };
}

function kafkaCommand(values: Flags, { props: p, registry }: FileSettings, common: CommonOptions): Command {
  const brokers = values['bootstrap-servers']?.split(',') ?? p.bootstrapServers;
  if (!brokers?.length)
    throw new LocalEsmConfigError(`--bootstrap-servers (or bootstrapServers in --config) is required\n${USAGE}`);
  const arn = values['event-source-arn'] ?? p.eventSourceArn;
  return {
    kind: 'kafka',
    options: {
      ...common,
      kafka: kafkaClientConfig(values, brokers, 'cdk-kafka-lambda-local'),
      topics: values.topic ?? p.topics ?? (p.topic ? [p.topic] : []),
      consumerGroupId: values['consumer-group-id'] ?? p.consumerGroupId,
      stallTimeoutSeconds: num('stall-timeout', values['stall-timeout']),
      filters: values.filter ?? p.filters?.map((f) => (typeof f === 'string' ? f : f.pattern)),
      schemaRegistry: registry ? schemaRegistrySettings(registry) : undefined,
      eventSource: arn ? { eventSourceArn: arn, bootstrapServers: brokers.join(',') } : { bootstrapServers: brokers.join(',') },
    },
  };
}

interface Running {
  readonly stats: { recordsCommitted: number; recordsSentToOnFailure: number };
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** One line, rewritten in place: records/s, then lag per partition (Kafka) or iterator age per shard (Kinesis). Only on a terminal. */
function progress(stats: Running['stats'], perSource: () => string): () => void {
  if (!process.stderr.isTTY) return () => undefined;
  let last = stats.recordsCommitted;
  let at = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const rate = ((stats.recordsCommitted - last) * 1000) / (now - at);
    last = stats.recordsCommitted;
    at = now;
    process.stderr.write(
      `\r\x1b[K${rate.toFixed(0)} records/s  committed ${stats.recordsCommitted}  on-failure ${stats.recordsSentToOnFailure}  ${perSource()}`,
    );
  }, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    process.stderr.write('\n');
  };
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  const help = !command || argv.some((a) => a === '--help' || a === '-h');
  if (command === 'redrive' && !help) return redriveCommand(args);
  if (command === 'doctor' && !help) return doctorCommand(args);
  // migrate reads --help itself, so that each subcommand prints its own usage.
  if (command === 'migrate') return migrateCommand(args);
  if (help || command !== 'local') {
    if (!help) process.stderr.write(`unknown command "${command}"\n`);
    const usage =
      command === 'redrive'
        ? REDRIVE_USAGE
        : command === 'doctor'
          ? DOCTOR_USAGE
          : command === 'local'
            ? USAGE
            : `${COMMANDS}\n\n${USAGE}\n\n${REDRIVE_USAGE}\n\n${DOCTOR_USAGE}\n\n${MIGRATE_USAGE}`;
    (help ? process.stdout : process.stderr).write(`${usage}\n`);
    process.exitCode = help ? 0 : 2;
    return;
  }
  let esm: Running;
  let perSource: () => string;
  let banner: string;
  try {
    const parsed = parseCommand(args, (line) => process.stderr.write(`${line}\n`));
    if (parsed.kind === 'kinesis') {
      const k = new LocalKinesisEventSourceMapping(parsed.options);
      esm = k;
      perSource = () =>
        `iterator age ${
          Object.entries(k.stats.shards)
            .sort()
            .map(([id, s]) => `${id}:${(s.iteratorAgeMs / 1000).toFixed(1)}s`)
            .join(' ') || '-'
        }`;
      banner = `reading ${parsed.options.stream}, checkpoints in ${k.checkpointFile}`;
    } else {
      const m = new LocalEventSourceMapping({
        ...parsed.options,
        onFatalError: () => {
          stopProgress();
          void m.stop().finally(() => process.exit(1));
        },
      });
      esm = m;
      perSource = () =>
        `lag ${
          Object.entries(m.stats.lag)
            .sort()
            .map(([k, v]) => `${k}:${v}`)
            .join(' ') || '-'
        }${m.stats.consumerRestarts ? `  stalled-consumer restarts ${m.stats.consumerRestarts}` : ''}`;
      banner = `consuming ${parsed.options.topics.join(',')} as group ${m.groupId}`;
    }
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const stopProgress = progress(esm.stats, perSource);
  const shutdown = async () => {
    stopProgress();
    await esm.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  process.stderr.write(`${banner}\n`);
  await esm.start();
}

/** cdk-kafka-lambda redrive: exit status 0 when nothing failed again, expired, stayed unread or was skipped. */
async function redriveCommand(args: string[]): Promise<void> {
  let options;
  try {
    const { redriveSettings } = await import('./redrive/settings');
    options = await redriveSettings(args, (line) => process.stderr.write(`${line}\n`));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const { redrive, redriveExitStatus } = await import('./redrive/redrive');
  const s = await redrive(options, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  process.exitCode = redriveExitStatus(s);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`${e instanceof Error ? `${e.name}: ${e.message}` : e}\n`);
    process.exit(1);
  });
}
