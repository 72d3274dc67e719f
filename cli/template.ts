/**
 * Settings of the local event source mapping from a synthesized template (cdk.out/*.template.json): the
 * AWS::Lambda::EventSourceMapping a KafkaTrigger or KinesisTrigger (or any Kafka or Kinesis event source) wrote,
 * so the emulator runs with exactly what will be deployed. Values that CloudFormation resolves only at deploy time (Ref, Fn::GetAtt, …)
 * cannot be read here; they are named so the user can give them as flags.
 */
import * as fs from 'node:fs';
import { LocalEsmConfigError, StartingPosition } from './kafka/esm';
import type { SchemaRegistryProps } from './kafka/schemas-config';

/** The emulator's settings, named as the Kafka event source props (durations and timestamps in seconds). */
export interface PropsFile {
  /** Kinesis: the stream name or ARN. */
  stream?: string;
  /** Kinesis: batches per shard at once. */
  parallelizationFactor?: number;
  bootstrapServers?: string[];
  topic?: string;
  topics?: string[];
  consumerGroupId?: string;
  startingPosition?: StartingPosition;
  startingPositionTimestamp?: number;
  batchSize?: number;
  maxBatchingWindow?: number;
  retryAttempts?: number;
  maxRecordAge?: number;
  bisectBatchOnError?: boolean;
  reportBatchItemFailures?: boolean;
  onFailure?: string;
  eventSourceArn?: string;
  /** Filter patterns: JSON texts, or aws-cdk's `{ pattern }` objects (lambda.FilterCriteria.filter). */
  filters?: Array<string | { pattern: string }>;
  /** The mapping's schema registry, as aws-cdk's KafkaSchemaRegistryConfig (what ConfluentSchemaRegistry/GlueSchemaRegistry bind to). */
  schemaRegistryConfig?: SchemaRegistryProps;
}

export interface TemplateSettings {
  readonly kind: 'kafka' | 'kinesis';
  readonly props: PropsFile;
  /** Properties left out: resolved only at deploy time, or not emulated. */
  readonly ignored: string[];
}

const MAPPING = 'AWS::Lambda::EventSourceMapping';
/** Read by the emulator elsewhere (the function) or about the AWS side only (network, auth, pollers, metrics). */
const NOT_LOCAL = new Set([
  'FunctionName',
  'ProvisionedPollerConfig',
  'MetricsConfig',
  'LoggingConfig',
  'Enabled',
  'Tags',
  'KmsKeyArn',
]);

/** The properties of the mapping --mapping names, or of the template's only Kafka or Kinesis mapping, and its kind. */
export function templateMapping(
  file: string,
  logicalId?: string,
): { properties: Record<string, any>; kind: 'kafka' | 'kinesis'; resources: Resources } {
  const resources = readTemplate(file).Resources ?? {};
  const properties = chooseMapping(file, resources, logicalId).Properties ?? {};
  return { properties, kind: mappingKind(properties, resources)!, resources };
}

export function settingsFromTemplate(file: string, logicalId?: string): TemplateSettings {
  const { properties: p, resources } = templateMapping(file, logicalId);
  const ignored: string[] = [];
  const plain: Plain = <T>(name: string, value: unknown, check: (v: unknown) => boolean): T | undefined => {
    if (value === undefined) return undefined;
    if (check(value)) return value as T;
    ignored.push(`${name} is resolved at deploy time; give it as a flag`);
    return undefined;
  };
  const common = commonProps(p, plain);
  if (mappingKind(p, resources) === 'kinesis') return kinesisSettings(p, resources, common, ignored, plain);
  return kafkaSettings(p, common, ignored, plain);
}

const isString = (v: unknown) => typeof v === 'string';
const isNumber = (v: unknown) => typeof v === 'number';
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function readTemplate(file: string): { Resources?: Resources } {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LocalEsmConfigError(`--template ${file}: cannot read it as a CloudFormation template (${(e as Error).message})`);
  }
}

function mappingKind(p: Record<string, any> | undefined, resources: Resources): 'kafka' | 'kinesis' | undefined {
  return p?.Topics || p?.SelfManagedEventSource ? 'kafka' : isKinesisArn(p?.EventSourceArn, resources) ? 'kinesis' : undefined;
}

/** The mapping named by --mapping, or the template's only Kafka or Kinesis mapping. */
function chooseMapping(file: string, resources: Resources, logicalId: string | undefined): Resources[string] {
  const mappings = Object.entries(resources).filter(
    ([, r]) => r.Type === MAPPING && mappingKind(r.Properties, resources) !== undefined,
  );
  const chosen =
    logicalId === undefined ? (mappings.length === 1 ? mappings[0] : undefined) : mappings.find(([id]) => id === logicalId);
  if (!chosen) {
    const why =
      logicalId === undefined
        ? `holds ${mappings.length} Kafka or Kinesis event source mappings; choose one with --mapping`
        : `has no Kafka or Kinesis event source mapping "${logicalId}"`;
    throw new LocalEsmConfigError(`--template ${file} ${why} (${mappings.map(([id]) => id).join(', ') || 'none'})`);
  }
  return chosen[1];
}

/** The settings both sources' mappings have. */
function commonProps(p: Record<string, any>, plain: Plain): PropsFile {
  return {
    startingPosition: plain<StartingPosition>('StartingPosition', p.StartingPosition, isString),
    startingPositionTimestamp: plain<number>('StartingPositionTimestamp', p.StartingPositionTimestamp, isNumber),
    batchSize: plain<number>('BatchSize', p.BatchSize, isNumber),
    maxBatchingWindow: plain<number>('MaximumBatchingWindowInSeconds', p.MaximumBatchingWindowInSeconds, isNumber),
    retryAttempts: plain<number>('MaximumRetryAttempts', p.MaximumRetryAttempts, isNumber),
    maxRecordAge: plain<number>('MaximumRecordAgeInSeconds', p.MaximumRecordAgeInSeconds, isNumber),
    bisectBatchOnError: plain<boolean>('BisectBatchOnFunctionError', p.BisectBatchOnFunctionError, (v) => typeof v === 'boolean'),
    reportBatchItemFailures:
      p.FunctionResponseTypes === undefined
        ? undefined
        : strings(p.FunctionResponseTypes) && p.FunctionResponseTypes.includes('ReportBatchItemFailures'),
    onFailure: plain<string>('DestinationConfig.OnFailure.Destination', p.DestinationConfig?.OnFailure?.Destination, isString),
  };
}

function kafkaSettings(p: Record<string, any>, common: PropsFile, ignored: string[], plain: Plain): TemplateSettings {
  const config = p.SelfManagedKafkaEventSourceConfig ?? p.AmazonManagedKafkaEventSourceConfig;
  const props: PropsFile = {
    topics: plain<string[]>('Topics', p.Topics, strings),
    bootstrapServers: plain<string[]>(
      'SelfManagedEventSource.Endpoints.KafkaBootstrapServers',
      p.SelfManagedEventSource?.Endpoints?.KafkaBootstrapServers,
      strings,
    ),
    eventSourceArn: plain<string>('EventSourceArn', p.EventSourceArn, isString),
    consumerGroupId: plain<string>('ConsumerGroupId', config?.ConsumerGroupId, isString),
    ...common,
    filters: plain<{ Pattern: string }[]>(
      'FilterCriteria.Filters',
      p.FilterCriteria?.Filters,
      (v) => Array.isArray(v) && v.every((f) => isString(f?.Pattern)),
    )?.map((f) => f.Pattern),
  };
  const read = new Set([
    ...COMMON,
    'Topics',
    'SelfManagedEventSource',
    'EventSourceArn',
    'SelfManagedKafkaEventSourceConfig',
    'AmazonManagedKafkaEventSourceConfig',
    'FilterCriteria',
    'SourceAccessConfigurations',
  ]);
  // Network entries (VPC_*) matter only in AWS; the broker's auth must be given as flags (--sasl, --tls, certificates).
  const auth = ((p.SourceAccessConfigurations ?? []) as { Type?: unknown }[])
    .map((c) => c.Type)
    .filter((t) => typeof t === 'string' && !t.startsWith('VPC_'));
  if (auth.length)
    ignored.push(
      `SourceAccessConfigurations ${auth.join(', ')}: give the broker's auth as flags (--sasl, --tls, certificates, or --msk-iam)`,
    );
  if (config?.SchemaRegistryConfig !== undefined) {
    props.schemaRegistryConfig = schemaRegistryOf(
      config.SchemaRegistryConfig,
      `${p.SelfManagedKafkaEventSourceConfig ? 'SelfManaged' : 'AmazonManaged'}KafkaEventSourceConfig.SchemaRegistryConfig`,
      ignored,
    );
  }
  notEmulated(p, read, ignored);
  return { kind: 'kafka', props: defined(props), ignored };
}

/**
 * SchemaRegistryConfig as props; a value resolved at deploy time (a Glue registry's or a created secret's ARN) is left
 * out and named with the flag that gives it.
 */
function schemaRegistryOf(c: Record<string, any>, name: string, ignored: string[]): SchemaRegistryProps {
  const literal = (v: unknown): v is string => typeof v === 'string';
  if (c.SchemaRegistryURI !== undefined && !literal(c.SchemaRegistryURI))
    ignored.push(`${name}.SchemaRegistryURI is resolved at deploy time; give --schema-registry`);
  const access = ((c.AccessConfigs ?? []) as { Type?: unknown; URI?: unknown }[]).map((a) => {
    const type = String(a.Type);
    if (!literal(a.URI))
      ignored.push(
        `${name}.AccessConfigs ${type} secret is resolved at deploy time; give --schema-registry-access ${type}=<secret ARN>`,
      );
    return { type, uri: literal(a.URI) ? a.URI : undefined };
  });
  return {
    schemaRegistryUri: literal(c.SchemaRegistryURI) ? c.SchemaRegistryURI : undefined,
    eventRecordFormat: literal(c.EventRecordFormat) ? c.EventRecordFormat : undefined,
    accessConfigs: access,
    schemaValidationConfigs: ((c.SchemaValidationConfigs ?? []) as { Attribute?: unknown }[]).map((v) => ({
      attribute: String(v.Attribute),
    })),
  };
}

export type Resources = Record<string, { Type: string; Properties?: Record<string, any> }>;
type Plain = <T>(name: string, value: unknown, check: (v: unknown) => boolean) => T | undefined;
/** Read for both kinds of mapping. */
const COMMON = [
  'StartingPosition',
  'StartingPositionTimestamp',
  'BatchSize',
  'MaximumBatchingWindowInSeconds',
  'MaximumRetryAttempts',
  'MaximumRecordAgeInSeconds',
  'BisectBatchOnFunctionError',
  'FunctionResponseTypes',
  'DestinationConfig',
];
const KINESIS_TYPES = new Set(['AWS::Kinesis::Stream', 'AWS::Kinesis::StreamConsumer']);

const defined = (props: PropsFile) => Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as PropsFile;

function notEmulated(p: Record<string, unknown>, read: Set<string>, ignored: string[]): void {
  for (const name of Object.keys(p)) {
    if (!read.has(name) && !NOT_LOCAL.has(name)) ignored.push(`${name} is not emulated`);
  }
}

/** A Kinesis stream or consumer ARN, literal or a reference to a stream or consumer of the template. */
function isKinesisArn(arn: unknown, resources: Resources): boolean {
  if (typeof arn === 'string') return /^arn:[^:]+:kinesis:/.test(arn);
  const ref =
    (arn as { 'Fn::GetAtt'?: unknown[]; Ref?: string } | undefined)?.['Fn::GetAtt']?.[0] ??
    (arn as { Ref?: string } | undefined)?.Ref;
  return typeof ref === 'string' && KINESIS_TYPES.has(resources[ref]?.Type);
}

function kinesisSettings(
  p: Record<string, any>,
  resources: Resources,
  common: PropsFile,
  ignored: string[],
  plain: Plain,
): TemplateSettings {
  // A consumer's ARN is the stream's ARN with /consumer/<name>:<time>: the emulator polls the stream itself.
  const literal = typeof p.EventSourceArn === 'string' ? p.EventSourceArn.replace(/\/consumer\/.*$/, '') : undefined;
  if (!literal) ignored.push('EventSourceArn (the stream) is resolved at deploy time; give --stream');
  const ref = p.EventSourceArn?.['Fn::GetAtt']?.[0] ?? p.EventSourceArn?.Ref;
  if (resources[ref]?.Type === 'AWS::Kinesis::StreamConsumer' || /\/consumer\//.test(String(p.EventSourceArn))) {
    ignored.push(
      'EventSourceArn is an enhanced fan-out consumer: the emulator reads the stream with standard iterators (GetRecords)',
    );
  }
  const props: PropsFile = {
    ...common,
    stream: literal,
    parallelizationFactor: plain<number>('ParallelizationFactor', p.ParallelizationFactor, (v) => typeof v === 'number'),
  };
  notEmulated(p, new Set([...COMMON, 'EventSourceArn', 'ParallelizationFactor']), ignored);
  return { kind: 'kinesis', props: defined(props), ignored };
}
