/**
 * The one contract between the KafkaDispatcher construct (which writes it as JSON into the
 * DISPATCHER_CONFIG_ENV environment variable) and the dispatcher handler (which reads and validates
 * it). Pure TypeScript without imports: the runtime bundle includes this file, so it must not pull in
 * aws-cdk-lib.
 */

/** Environment variable that carries the dispatcher configuration as JSON. */
export const DISPATCHER_CONFIG_ENV = 'CKL_DISPATCHER_CONFIG';

/** Partition key (string) of the idempotency table. */
export const IDEMPOTENCY_PARTITION_KEY = 'id';
/** TTL attribute (epoch seconds) of the idempotency table. */
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiration';

/** Version of the configuration format; the runtime refuses versions it does not know. */
export const DISPATCHER_CONFIG_VERSION = 2;

/** Each list of names, written once: the construct's enums are checked against them in the tests. */
export const INVOCATION_TYPES = ['RequestResponse', 'Event'] as const;
export const PAYLOAD_FORMATS = ['confluent', 'nordstrom-plain', 'nordstrom-json', 'raw'] as const;
export const ERROR_BEHAVIORS = ['fail', 'log', 'drop'] as const;
export const IDEMPOTENCY_MODES = ['batched', 'strict'] as const;
export const RELAY_AUTHS = ['none', 'scram-sha-256', 'scram-sha-512', 'plain', 'mtls', 'msk-iam'] as const;
/**
 * How a record's key or value is framed: bytes as they are; a registry's wire format (Confluent, Glue); or what the
 * event source mapping's schema registry delivers (EventRecordFormat JSON or SOURCE).
 */
export const FIELD_FORMATS = ['bytes', 'confluent', 'glue', 'mapping-json', 'mapping-source'] as const;
export const SCHEMA_REGISTRY_AUTHS = ['none', 'basic', 'mtls'] as const;

export type InvocationTypeName = (typeof INVOCATION_TYPES)[number];
export type PayloadFormatName = (typeof PAYLOAD_FORMATS)[number];
export type ErrorBehaviorName = (typeof ERROR_BEHAVIORS)[number];
export type IdempotencyModeName = (typeof IDEMPOTENCY_MODES)[number];
export type RelayAuthName = (typeof RELAY_AUTHS)[number];
export type FieldFormatName = (typeof FIELD_FORMATS)[number];
export type SchemaRegistryAuthName = (typeof SCHEMA_REGISTRY_AUTHS)[number];

/** The bounds of each number, [min, max], checked by the construct at synth and by the runtime at start. */
export const BOUNDS = {
  recordsPerInvocation: [1, 10_000],
  concurrency: [1, 1_000],
  maxAttempts: [1, 100],
  baseDelayMs: [1, 60_000],
  maxDelayMs: [1, 900_000],
  targetTimeoutMs: [1, 900_000],
  ttlSeconds: [60, 366 * 24 * 3600],
  maxStoredResultBytes: [0, 380_000],
  timeMarginMs: [0, 600_000],
  /** STS AssumeRole's DurationSeconds (a role's maximum session may be lower; 1 hour is every role's). */
  assumeRoleSeconds: [900, 43_200],
  /**
   * The error topic's max.message.bytes: at least room for an error record that stands for a record by its coordinates
   * and digests with a bounded payload; at most the brokers' default socket.request.max.bytes (100 MiB).
   */
  errorTopicMaxMessageBytes: [16_384, 104_857_600],
} as const;

/** The defaults, used by the construct for what it writes and by the runtime library for what it is not given. */
export const DEFAULTS = {
  recordsPerInvocation: 100,
  concurrency: 4,
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  /** Lambda's longest timeout: how long a target may run when its own timeout is not known. */
  targetTimeoutMs: 15 * 60_000,
  timeMarginMs: 10_000,
  ttlSeconds: 7 * 24 * 3600,
  maxStoredResultBytes: 65_536,
  relayClientId: 'cdk-kafka-lambda-relay',
  metricsNamespace: 'CdkKafkaLambda',
  assumeRoleSeconds: 3_600,
} as const;

/** An IAM role ARN (any partition; the path may hold slashes). */
export const ROLE_ARN = /^arn:[a-z-]+:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
/** STS's ExternalId: its length in characters, [min, max]. */
export const EXTERNAL_ID_LENGTH = [2, 1_224] as const;
/** STS's ExternalId: EXTERNAL_ID_LENGTH characters of [\w+=,.@:/-]. */
export const EXTERNAL_ID = new RegExp(`^[\\w+=,.@:/-]{${EXTERNAL_ID_LENGTH[0]},${EXTERNAL_ID_LENGTH[1]}}$`);

/** The dispatcher's embedded metrics. */
export const METRIC_NAMES = [
  'RecordsIn',
  'RecordsInvoked',
  'RecordsResponded',
  'RecordsFailed',
  'RecordsDropped',
  'RecordsSkippedDuplicate',
  'InvokeRetries',
  'Invocations',
  'ReinvokedForLostResult',
  'RecordsUnknownOutcome',
  'RecordsNotRecorded',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * Lambda's invocation payload limits: 6 MB synchronous, 256 KB asynchronous.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
export const PAYLOAD_LIMIT_BYTES = { sync: 6 * 1024 * 1024, async: 256 * 1024 } as const;

/** A broker as "host:port". */
export const HOST_PORT = /^[^\s:]+:\d+$/;

export interface TargetConfig {
  /**
   * The target is the code of the function that reads this configuration, called in process (`inProcessHandler`),
   * not another function: `functionName` and `assumeRole` are then absent and `invocationType` is RequestResponse.
   * Absent: false.
   */
  readonly inProcess?: boolean;
  /**
   * Function name, ARN or alias ARN (name:alias). Absent with routes (records no route takes go to the error path) or
   * in process.
   */
  readonly functionName?: string;
  readonly invocationType: InvocationTypeName;
  readonly payloadFormat: PayloadFormatName;
  /** Most records per invocation. */
  readonly recordsPerInvocation: number;
  /** Topic-partitions invoked in parallel. */
  readonly concurrency: number;
  /** Attempts per invocation, including the first (throttling, 5xx, timeouts). */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * The target's own timeout: how long an invocation the dispatcher stopped waiting for may still run. Strict
   * idempotency holds a key in progress at least that long. Absent: 15 minutes, Lambda's longest.
   */
  readonly timeoutMs?: number;
  /** Ask for the target's 4 KB log tail for error records (it may hold record data). Absent: false. */
  readonly includeTargetLogTail?: boolean;
  /** Invoke the target with the credentials of this role (e.g. one in the target's account). Absent: the function's own. */
  readonly assumeRole?: AssumeRoleConfig;
}

/** Which records a route takes: every condition given must hold; none given: every record. */
export interface RouteMatch {
  /** Topics (Kinesis: stream names). */
  readonly topics?: readonly string[];
  /** A header whose value (UTF-8) equals this one; Kinesis records have no headers. */
  readonly header?: { readonly name: string; readonly value: string };
  /** A key (Kinesis: partition key) that starts with this text. */
  readonly keyPrefix?: string;
}

/** A route: the records it takes and their target; the other target settings are `target`'s. */
export interface RouteConfig {
  readonly match: RouteMatch;
  readonly functionName: string;
  readonly invocationType: InvocationTypeName;
  readonly payloadFormat: PayloadFormatName;
  /** Its target's results (synchronous invocation); needs the relay. Absent: not relayed. */
  readonly responseTopic?: string;
  readonly assumeRole?: AssumeRoleConfig;
}

export interface AssumeRoleConfig {
  readonly roleArn: string;
  /** The external ID the role's trust policy requires. */
  readonly externalId?: string;
  /** Session length in seconds. Absent: 3600. */
  readonly durationSeconds?: number;
}

export interface IdempotencyConfig {
  readonly tableName: string;
  readonly mode: IdempotencyModeName;
  readonly ttlSeconds: number;
  /** JSON pointer (RFC 6901) into the record value that yields the key; absent: topic-partition-offset. */
  readonly keyPointer?: string;
  /** Largest stored result in bytes; larger results are not stored (the record is still marked done). */
  readonly maxStoredResultBytes: number;
  /**
   * Every mapping of a Kinesis stream that targets the dispatcher processes each shard in sequence order
   * (ParallelizationFactor 1), so Kinesis records keyed by their coordinates are kept per range too. Absent: an
   * item per Kinesis record (with a higher factor a shard's batches interleave).
   */
  readonly kinesisRanges?: boolean;
}

export interface RelayConfig {
  readonly bootstrapServers: string[];
  readonly auth: RelayAuthName;
  /** Secrets Manager secret: SCRAM {username,password} or mTLS {certificate,privateKey,privateKeyPassword?}. */
  readonly secretArn?: string;
  /** Secrets Manager secret {certificate} with the brokers' root CA (PEM). */
  readonly rootCaSecretArn?: string;
  readonly tls: boolean;
  readonly responseTopic?: string;
  readonly errorTopic?: string;
  /** The error topic's max.message.bytes, which error records are sized for. Absent: read from the topic (DescribeConfigs), else 1048576. */
  readonly errorTopicMaxMessageBytes?: number;
  readonly clientId: string;
}

/** Keys and values decoded with their schemas. */
export interface SchemasConfig {
  readonly key: FieldFormatName;
  readonly value: FieldFormatName;
  /** A Confluent-compatible registry's REST API, for Confluent schema ids. */
  readonly confluent?: {
    readonly url: string;
    readonly auth: SchemaRegistryAuthName;
    /** basic: {username, password}; mtls: {certificate, privateKey, privateKeyPassword?}. */
    readonly secretArn?: string;
    /** {certificate}: the CA of the registry's TLS certificate. */
    readonly rootCaSecretArn?: string;
  };
  /** The Glue Schema Registry, for Glue schema version ids. */
  readonly glue?: {
    /** @default - the function's region */
    readonly region?: string;
  };
}

export interface DispatcherConfig {
  readonly version: number;
  readonly target: TargetConfig;
  readonly onError: ErrorBehaviorName;
  /** Answer with batchItemFailures instead of throwing (the ESM must enable ReportBatchItemFailures). */
  readonly reportBatchItemFailures: boolean;
  /** No new invocation starts when less than this remains of the dispatcher's time. */
  readonly timeMarginMs: number;
  readonly idempotency?: IdempotencyConfig;
  readonly relay?: RelayConfig;
  /** Targets chosen per record, tried in order; `target` (its function) takes the records none takes. */
  readonly routes?: readonly RouteConfig[];
  /** Where the embedded metrics go. Absent: DEFAULTS.metricsNamespace, service "cdk-kafka-lambda". */
  readonly metrics?: MetricsConfig;
  readonly schemas?: SchemasConfig;
}

export interface MetricsConfig {
  readonly namespace: string;
  /** The `service` dimension and the logs' service. */
  readonly service: string;
}

/** The dispatcher configuration is missing or invalid. */
export class DispatcherConfigError extends Error {
  constructor(message: string) {
    super(`${DISPATCHER_CONFIG_ENV}: ${message}`);
    this.name = 'DispatcherConfigError';
  }
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DispatcherConfigError(`${path} must be an object, got ${JSON.stringify(value)}`);
  }
  return value as Json;
}

function str(o: Json, field: string, path: string, optional = false): string | undefined {
  const v = o[field];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length === 0) {
    throw new DispatcherConfigError(`${path}.${field} must be a non-empty string, got ${JSON.stringify(v)}`);
  }
  return v;
}

function int(o: Json, field: string, path: string, [min, max]: readonly [number, number]): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new DispatcherConfigError(`${path}.${field} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function oneOf<T extends string>(o: Json, field: string, path: string, allowed: readonly string[]): T {
  const v = o[field];
  if (typeof v !== 'string' || !allowed.includes(v)) {
    throw new DispatcherConfigError(`${path}.${field} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function bool(o: Json, field: string, path: string): boolean {
  const v = o[field];
  if (typeof v !== 'boolean') throw new DispatcherConfigError(`${path}.${field} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function matching(o: Json, field: string, path: string, pattern: RegExp, what: string, optional = false): string | undefined {
  const v = str(o, field, path, optional);
  if (v !== undefined && !pattern.test(v))
    throw new DispatcherConfigError(`${path}.${field} must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

function assumeRoleConfig(a: Json, path: string): AssumeRoleConfig {
  return {
    roleArn: matching(a, 'roleArn', path, ROLE_ARN, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)')!,
    externalId: matching(
      a,
      'externalId',
      path,
      EXTERNAL_ID,
      `${EXTERNAL_ID_LENGTH[0]} to ${EXTERNAL_ID_LENGTH[1]} characters of letters, digits and +=,.@:/-_`,
      true,
    ),
    durationSeconds: a.durationSeconds === undefined ? undefined : int(a, 'durationSeconds', path, BOUNDS.assumeRoleSeconds),
  };
}

/** A header value to match: any string, the empty one too. */
function headerValue(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new DispatcherConfigError(`${path} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function schemasConfig(value: unknown): SchemasConfig {
  const path = 'config.schemas';
  const o = object(value, path);
  const key = oneOf<FieldFormatName>(o, 'key', path, FIELD_FORMATS);
  const val = oneOf<FieldFormatName>(o, 'value', path, FIELD_FORMATS);
  let confluent: SchemasConfig['confluent'];
  if (o.confluent !== undefined) {
    const c = object(o.confluent, `${path}.confluent`);
    const url = matching(c, 'url', `${path}.confluent`, /^https?:\/\/[^\s]+$/, 'an http:// or https:// URL')!;
    const auth = oneOf<SchemaRegistryAuthName>(c, 'auth', `${path}.confluent`, SCHEMA_REGISTRY_AUTHS);
    const secretArn = str(c, 'secretArn', `${path}.confluent`, auth === 'none');
    if (auth === 'mtls' && !url.startsWith('https://'))
      throw new DispatcherConfigError(`${path}.confluent.url must be https:// for auth mtls, got ${JSON.stringify(url)}`);
    confluent = { url, auth, secretArn, rootCaSecretArn: str(c, 'rootCaSecretArn', `${path}.confluent`, true) };
  }
  const glue = o.glue === undefined ? undefined : { region: str(object(o.glue, `${path}.glue`), 'region', `${path}.glue`, true) };
  // A wire format needs its registry; the mapping's SOURCE format needs one of them (its schema ids say which).
  for (const [field, format] of [
    ['key', key],
    ['value', val],
  ] as const) {
    if (format === 'confluent' && confluent === undefined)
      throw new DispatcherConfigError(`${path}.${field} is confluent: ${path}.confluent (the registry's URL) is required`);
    if (format === 'glue' && glue === undefined)
      throw new DispatcherConfigError(`${path}.${field} is glue: ${path}.glue is required`);
    if (format === 'mapping-source' && confluent === undefined && glue === undefined) {
      throw new DispatcherConfigError(
        `${path}.${field} is mapping-source: ${path}.confluent or ${path}.glue (where the mapping's schema ids are) is required`,
      );
    }
  }
  return { key, value: val, confluent, glue };
}

function routeConfigs(value: unknown): RouteConfig[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new DispatcherConfigError(`config.routes must be a non-empty list, got ${JSON.stringify(value)}`);
  return value.map((v, i) => {
    const path = `config.routes[${i}]`;
    const r = object(v, path);
    const m = object(r.match, `${path}.match`);
    const topics = m.topics;
    if (
      topics !== undefined &&
      (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string' && t.length > 0))
    ) {
      throw new DispatcherConfigError(
        `${path}.match.topics must be a non-empty list of topic names, got ${JSON.stringify(topics)}`,
      );
    }
    const header = m.header === undefined ? undefined : object(m.header, `${path}.match.header`);
    return {
      match: {
        topics: topics as string[] | undefined,
        header: header && {
          name: str(header, 'name', `${path}.match.header`)!,
          value: headerValue(header.value, `${path}.match.header.value`),
        },
        keyPrefix: str(m, 'keyPrefix', `${path}.match`, true),
      },
      functionName: str(r, 'functionName', path)!,
      invocationType: oneOf(r, 'invocationType', path, INVOCATION_TYPES),
      payloadFormat: oneOf(r, 'payloadFormat', path, PAYLOAD_FORMATS),
      responseTopic: str(r, 'responseTopic', path, true),
      assumeRole:
        r.assumeRole === undefined
          ? undefined
          : assumeRoleConfig(object(r.assumeRole, `${path}.assumeRole`), `${path}.assumeRole`),
    };
  });
}

/**
 * Reads and validates the configuration JSON. Throws DispatcherConfigError naming the field, the value
 * received and the accepted values.
 */
export function parseDispatcherConfig(json: string | undefined): DispatcherConfig {
  const c = configObject(json);
  // Read in this order, so that of several invalid fields the same one is named.
  const target = targetConfig(c.target, Array.isArray(c.routes) && c.routes.length > 0);
  const idempotency = c.idempotency === undefined ? undefined : idempotencyConfig(c.idempotency);
  const relay = c.relay === undefined ? undefined : relayConfig(c.relay);
  const routes = c.routes === undefined ? undefined : routeConfigs(c.routes);
  if (routes?.some((r) => r.responseTopic !== undefined) && relay === undefined) {
    throw new DispatcherConfigError('config.routes: a responseTopic needs config.relay (the brokers to send it to)');
  }
  return {
    version: DISPATCHER_CONFIG_VERSION,
    target,
    routes,
    onError: oneOf(c, 'onError', 'config', ERROR_BEHAVIORS),
    reportBatchItemFailures: bool(c, 'reportBatchItemFailures', 'config'),
    timeMarginMs: int(c, 'timeMarginMs', 'config', BOUNDS.timeMarginMs),
    idempotency,
    relay,
    schemas: c.schemas === undefined ? undefined : schemasConfig(c.schemas),
    metrics: c.metrics === undefined ? undefined : metricsConfig(c.metrics),
  };
}

/** The JSON's top object, of this version. */
function configObject(json: string | undefined): Json {
  if (json === undefined || json === '') {
    throw new DispatcherConfigError(
      'is not set; the KafkaDispatcher construct writes it, set it when deploying the dispatcher yourself',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new DispatcherConfigError(`is not valid JSON (${(e as Error).message})`);
  }
  const c = object(raw, 'config');
  if (c.version !== DISPATCHER_CONFIG_VERSION) {
    throw new DispatcherConfigError(
      `config.version must be ${DISPATCHER_CONFIG_VERSION}, got ${JSON.stringify(c.version)}: deploy the dispatcher and the construct from the same cdk-kafka-lambda version`,
    );
  }
  return c;
}

/** The default target; its function may be absent when routes take the records. */
function targetConfig(value: unknown, hasRoutes: boolean): TargetConfig {
  const path = 'config.target';
  const t = object(value, path);
  const inProcess = t.inProcess === undefined ? undefined : bool(t, 'inProcess', path);
  if (inProcess === true) {
    const other = ['functionName', 'assumeRole'].find((k) => t[k] !== undefined);
    if (other !== undefined || t.invocationType !== 'RequestResponse') {
      throw new DispatcherConfigError(
        `${path}.inProcess: the target is the function's own code, so ${path}.${other ?? 'invocationType'} must be ` +
          `${other === undefined ? '"RequestResponse"' : 'absent'}, got ${JSON.stringify(t[other ?? 'invocationType'])}`,
      );
    }
  }
  return {
    inProcess,
    functionName: str(t, 'functionName', path, hasRoutes || inProcess === true),
    invocationType: oneOf(t, 'invocationType', path, INVOCATION_TYPES),
    payloadFormat: oneOf(t, 'payloadFormat', path, PAYLOAD_FORMATS),
    recordsPerInvocation: int(t, 'recordsPerInvocation', path, BOUNDS.recordsPerInvocation),
    concurrency: int(t, 'concurrency', path, BOUNDS.concurrency),
    maxAttempts: int(t, 'maxAttempts', path, BOUNDS.maxAttempts),
    baseDelayMs: int(t, 'baseDelayMs', path, BOUNDS.baseDelayMs),
    maxDelayMs: int(t, 'maxDelayMs', path, BOUNDS.maxDelayMs),
    timeoutMs: t.timeoutMs === undefined ? undefined : int(t, 'timeoutMs', path, BOUNDS.targetTimeoutMs),
    includeTargetLogTail: t.includeTargetLogTail === undefined ? undefined : bool(t, 'includeTargetLogTail', path),
    assumeRole:
      t.assumeRole === undefined ? undefined : assumeRoleConfig(object(t.assumeRole, `${path}.assumeRole`), `${path}.assumeRole`),
  };
}

function idempotencyConfig(value: unknown): IdempotencyConfig {
  const path = 'config.idempotency';
  const i = object(value, path);
  const keyPointer = str(i, 'keyPointer', path, true);
  if (keyPointer !== undefined && !keyPointer.startsWith('/')) {
    throw new DispatcherConfigError(
      `${path}.keyPointer must be a JSON pointer starting with "/", got ${JSON.stringify(keyPointer)}`,
    );
  }
  return {
    tableName: str(i, 'tableName', path)!,
    mode: oneOf(i, 'mode', path, IDEMPOTENCY_MODES),
    ttlSeconds: int(i, 'ttlSeconds', path, BOUNDS.ttlSeconds),
    keyPointer,
    maxStoredResultBytes: int(i, 'maxStoredResultBytes', path, BOUNDS.maxStoredResultBytes),
    kinesisRanges: i.kinesisRanges === undefined ? undefined : bool(i, 'kinesisRanges', path),
  };
}

function relayConfig(value: unknown): RelayConfig {
  const path = 'config.relay';
  const r = object(value, path);
  const servers = r.bootstrapServers;
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && HOST_PORT.test(s))) {
    throw new DispatcherConfigError(
      `${path}.bootstrapServers must be a non-empty list of "host:port", got ${JSON.stringify(servers)}`,
    );
  }
  const auth = oneOf<RelayAuthName>(r, 'auth', path, RELAY_AUTHS);
  const secretArn = str(r, 'secretArn', path, true);
  if ((auth.startsWith('scram') || auth === 'mtls') && secretArn === undefined) {
    throw new DispatcherConfigError(`${path}.secretArn is required for auth ${auth}`);
  }
  const errorTopic = str(r, 'errorTopic', path, true);
  if (r.errorTopicMaxMessageBytes !== undefined && errorTopic === undefined) {
    throw new DispatcherConfigError(
      `${path}.errorTopicMaxMessageBytes needs ${path}.errorTopic (the topic it describes), got ${JSON.stringify(r.errorTopicMaxMessageBytes)} without one`,
    );
  }
  return {
    bootstrapServers: servers as string[],
    auth,
    secretArn,
    rootCaSecretArn: str(r, 'rootCaSecretArn', path, true),
    tls: bool(r, 'tls', path),
    responseTopic: str(r, 'responseTopic', path, true),
    errorTopic,
    errorTopicMaxMessageBytes:
      r.errorTopicMaxMessageBytes === undefined
        ? undefined
        : int(r, 'errorTopicMaxMessageBytes', path, BOUNDS.errorTopicMaxMessageBytes),
    clientId: str(r, 'clientId', path)!,
  };
}

function metricsConfig(value: unknown): MetricsConfig {
  const m = object(value, 'config.metrics');
  return { namespace: str(m, 'namespace', 'config.metrics')!, service: str(m, 'service', 'config.metrics')! };
}
