/**
 * Settings of the local event source mapping from a synthesized template (cdk.out/*.template.json): the
 * AWS::Lambda::EventSourceMapping a KafkaTrigger (or any Kafka event source) wrote, so the emulator runs with
 * exactly what will be deployed. Values that CloudFormation resolves only at deploy time (Ref, Fn::GetAtt, …)
 * cannot be read here; they are named so the user can give them as flags.
 */
import * as fs from 'node:fs';
import { LocalEsmConfigError, StartingPosition } from './esm';

/** The emulator's settings, named as the Kafka event source props (durations and timestamps in seconds). */
export interface PropsFile {
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
}

export interface TemplateSettings {
  readonly props: PropsFile;
  /** Properties left out: resolved only at deploy time, or not emulated. */
  readonly ignored: string[];
}

const MAPPING = 'AWS::Lambda::EventSourceMapping';
/** Read by the emulator elsewhere (the function) or about the AWS side only (network, auth, pollers, metrics). */
const NOT_LOCAL = new Set(['FunctionName', 'ProvisionedPollerConfig', 'MetricsConfig', 'LoggingConfig', 'Enabled', 'Tags', 'KmsKeyArn']);

export function settingsFromTemplate(file: string, logicalId?: string): TemplateSettings {
  let template: { Resources?: Record<string, { Type: string; Properties?: Record<string, any> }> };
  try {
    template = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LocalEsmConfigError(`--template ${file}: cannot read it as a CloudFormation template (${(e as Error).message})`);
  }
  const mappings = Object.entries(template.Resources ?? {}).filter(([, r]) => r.Type === MAPPING && (r.Properties?.Topics || r.Properties?.SelfManagedEventSource));
  const ids = mappings.map(([id]) => id);
  const chosen = logicalId === undefined
    ? (mappings.length === 1 ? mappings[0] : undefined)
    : mappings.find(([id]) => id === logicalId);
  if (!chosen) {
    const why = logicalId === undefined ? `holds ${mappings.length} Kafka event source mappings; choose one with --mapping` : `has no Kafka event source mapping "${logicalId}"`;
    throw new LocalEsmConfigError(`--template ${file} ${why} (${ids.join(', ') || 'none'})`);
  }
  const [, resource] = chosen;
  const p = resource.Properties ?? {};
  const ignored: string[] = [];
  const plain = <T>(name: string, value: unknown, check: (v: unknown) => boolean): T | undefined => {
    if (value === undefined) return undefined;
    if (check(value)) return value as T;
    ignored.push(`${name} is resolved at deploy time; give it as a flag`);
    return undefined;
  };
  const isString = (v: unknown) => typeof v === 'string';
  const isNumber = (v: unknown) => typeof v === 'number';
  const strings = (v: unknown) => Array.isArray(v) && v.every(isString);
  const config = p.SelfManagedKafkaEventSourceConfig ?? p.AmazonManagedKafkaEventSourceConfig;
  const props: PropsFile = {
    topics: plain<string[]>('Topics', p.Topics, strings),
    bootstrapServers: plain<string[]>('SelfManagedEventSource.Endpoints.KafkaBootstrapServers', p.SelfManagedEventSource?.Endpoints?.KafkaBootstrapServers, strings),
    eventSourceArn: plain<string>('EventSourceArn', p.EventSourceArn, isString),
    consumerGroupId: plain<string>('ConsumerGroupId', config?.ConsumerGroupId, isString),
    startingPosition: plain<StartingPosition>('StartingPosition', p.StartingPosition, isString),
    startingPositionTimestamp: plain<number>('StartingPositionTimestamp', p.StartingPositionTimestamp, isNumber),
    batchSize: plain<number>('BatchSize', p.BatchSize, isNumber),
    maxBatchingWindow: plain<number>('MaximumBatchingWindowInSeconds', p.MaximumBatchingWindowInSeconds, isNumber),
    retryAttempts: plain<number>('MaximumRetryAttempts', p.MaximumRetryAttempts, isNumber),
    maxRecordAge: plain<number>('MaximumRecordAgeInSeconds', p.MaximumRecordAgeInSeconds, isNumber),
    bisectBatchOnError: plain<boolean>('BisectBatchOnFunctionError', p.BisectBatchOnFunctionError, (v) => typeof v === 'boolean'),
    reportBatchItemFailures: p.FunctionResponseTypes === undefined ? undefined : strings(p.FunctionResponseTypes) && p.FunctionResponseTypes.includes('ReportBatchItemFailures'),
    onFailure: plain<string>('DestinationConfig.OnFailure.Destination', p.DestinationConfig?.OnFailure?.Destination, isString),
    filters: plain<{ Pattern: string }[]>('FilterCriteria.Filters', p.FilterCriteria?.Filters, (v) => Array.isArray(v) && v.every((f) => isString(f?.Pattern)))
      ?.map((f) => f.Pattern),
  };
  const read = new Set(['Topics', 'SelfManagedEventSource', 'EventSourceArn', 'SelfManagedKafkaEventSourceConfig', 'AmazonManagedKafkaEventSourceConfig',
    'StartingPosition', 'StartingPositionTimestamp', 'BatchSize', 'MaximumBatchingWindowInSeconds', 'MaximumRetryAttempts', 'MaximumRecordAgeInSeconds',
    'BisectBatchOnFunctionError', 'FunctionResponseTypes', 'DestinationConfig', 'FilterCriteria', 'SourceAccessConfigurations']);
  // Network entries (VPC_*) matter only in AWS; the broker's auth must be given as flags (--sasl, --tls, certificates).
  const auth = ((p.SourceAccessConfigurations ?? []) as { Type?: unknown }[]).map((c) => c.Type).filter((t) => typeof t === 'string' && !t.startsWith('VPC_'));
  if (auth.length) ignored.push(`SourceAccessConfigurations ${auth.join(', ')}: give the broker's auth as flags (--sasl, --tls, certificates)`);
  if (config?.SchemaRegistryConfig !== undefined) ignored.push(`${p.SelfManagedKafkaEventSourceConfig ? 'SelfManaged' : 'AmazonManaged'}KafkaEventSourceConfig.SchemaRegistryConfig is not emulated`);
  for (const name of Object.keys(p)) {
    if (!read.has(name) && !NOT_LOCAL.has(name)) ignored.push(`${name} is not emulated`);
  }
  return { props: Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as PropsFile, ignored };
}
