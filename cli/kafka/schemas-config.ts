/**
 * The Kafka mapping's schema registry settings (SchemaRegistryConfig,
 * https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html), from a template, a props file
 * and flags (later ones winning), checked as Lambda checks them; and the registry client they ask for.
 */
import type { RegistryClient } from '../../runtime/schemas/registry';
import { ConfluentRegistryClient, GlueRegistryClient } from '../../runtime/schemas/registry';
import { localAwsSettings } from '../aws';
import { LocalEsmConfigError } from '../errors';

export type EventRecordFormat = 'JSON' | 'SOURCE';
export type ValidatedAttribute = 'KEY' | 'VALUE';
export type RegistryAccessType = 'BASIC_AUTH' | 'CLIENT_CERTIFICATE_TLS_AUTH' | 'SERVER_ROOT_CA_CERTIFICATE';

export interface SchemaRegistrySettings {
  /** A Confluent-compatible registry's URL (http or https), or a Glue registry's ARN. */
  readonly uri: string;
  /** JSON: validated attributes delivered as JSON text; SOURCE: as their data without the wire header. */
  readonly eventRecordFormat: EventRecordFormat;
  /** The attributes validated (and, with JSON, deserialized). */
  readonly attributes: readonly ValidatedAttribute[];
  /** Secrets Manager secret ARNs by access type (Confluent registries only), in the mapping's secret formats. */
  readonly access?: Readonly<Partial<Record<RegistryAccessType, string>>>;
}

/** The props file's form: aws-cdk's KafkaSchemaRegistryConfig (what ConfluentSchemaRegistry / GlueSchemaRegistry bind to). */
export interface SchemaRegistryProps {
  schemaRegistryUri?: string;
  eventRecordFormat?: string;
  accessConfigs?: { type: string; uri?: string }[];
  schemaValidationConfigs?: { attribute: string }[];
}

const FORMATS: readonly string[] = ['JSON', 'SOURCE'];
const ATTRIBUTES: readonly string[] = ['KEY', 'VALUE'];
const ACCESS_TYPES: readonly string[] = ['BASIC_AUTH', 'CLIENT_CERTIFICATE_TLS_AUTH', 'SERVER_ROOT_CA_CERTIFICATE'];
const GLUE_REGISTRY_ARN = /^arn:[^:]+:glue:([^:]+):\d{12}:registry\/.+$/;
const SECRET_ARN = /^arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:.+$/;

export function registryKind(uri: string): 'confluent' | 'glue' {
  return uri.startsWith('arn:') ? 'glue' : 'confluent';
}

/** Later layers win: the URI, the format and the attribute list as a whole, access configs per type. */
export function mergeSchemaRegistryProps(layers: readonly (SchemaRegistryProps | undefined)[]): SchemaRegistryProps | undefined {
  const present = layers.filter(
    (l): l is SchemaRegistryProps => l !== undefined && Object.values(l).some((v) => v !== undefined),
  );
  if (present.length === 0) return undefined;
  const access = new Map<string, { type: string; uri?: string }>();
  const merged: SchemaRegistryProps = {};
  for (const l of present) {
    merged.schemaRegistryUri = l.schemaRegistryUri ?? merged.schemaRegistryUri;
    merged.eventRecordFormat = l.eventRecordFormat ?? merged.eventRecordFormat;
    merged.schemaValidationConfigs = l.schemaValidationConfigs ?? merged.schemaValidationConfigs;
    for (const a of l.accessConfigs ?? []) access.set(a.type, a);
  }
  return { ...merged, accessConfigs: [...access.values()] };
}

/** The settings of merged props; fails naming the setting, its flag, the value and what to do. */
export function schemaRegistrySettings(p: SchemaRegistryProps): SchemaRegistrySettings {
  const fail = (msg: string): never => {
    throw new LocalEsmConfigError(`schema registry: ${msg}`);
  };
  if (!p.schemaRegistryUri)
    fail('schemaRegistryUri (--schema-registry) is required: a Confluent-compatible registry URL or a Glue registry ARN');
  const access: Partial<Record<RegistryAccessType, string>> = {};
  for (const a of p.accessConfigs ?? []) {
    if (!ACCESS_TYPES.includes(a.type)) fail(`access type must be ${ACCESS_TYPES.join(', ')}, got "${a.type}"`);
    if (!a.uri) fail(`${a.type} needs its secret's ARN: give --schema-registry-access ${a.type}=<secret ARN>`);
    access[a.type as RegistryAccessType] = a.uri;
  }
  const settings: SchemaRegistrySettings = {
    uri: p.schemaRegistryUri!,
    eventRecordFormat: p.eventRecordFormat as EventRecordFormat,
    attributes: (p.schemaValidationConfigs ?? []).map((c) => c.attribute as ValidatedAttribute),
    access,
  };
  validateSchemaRegistry(settings);
  return settings;
}

/** Checks settings given in code as Lambda checks the mapping's (CreateEventSourceMapping's constraints). */
export function validateSchemaRegistry(s: SchemaRegistrySettings): void {
  const fail = (msg: string): never => {
    throw new LocalEsmConfigError(`schema registry: ${msg}`);
  };
  const glue = registryKind(s.uri) === 'glue';
  if (glue ? !GLUE_REGISTRY_ARN.test(s.uri) : !/^https?:\/\/[^/]/.test(s.uri)) {
    fail(
      `schemaRegistryUri must be an http(s) URL of a Confluent-compatible registry or a Glue registry ARN (arn:aws:glue:REGION:ACCOUNT:registry/NAME), got "${s.uri}"`,
    );
  }
  if (!FORMATS.includes(s.eventRecordFormat))
    fail(`eventRecordFormat (--event-record-format) must be JSON or SOURCE, got ${JSON.stringify(s.eventRecordFormat)}`);
  if (s.attributes.length === 0) fail('schemaValidationConfigs (--schema-validate) must name KEY, VALUE or both');
  for (const a of s.attributes) if (!ATTRIBUTES.includes(a)) fail(`a validated attribute must be KEY or VALUE, got "${a}"`);
  if (new Set(s.attributes).size !== s.attributes.length) fail(`validated attributes repeat: ${s.attributes.join(', ')}`);
  const access = s.access ?? {};
  for (const [type, arn] of Object.entries(access)) {
    if (!ACCESS_TYPES.includes(type)) fail(`access type must be ${ACCESS_TYPES.join(', ')}, got "${type}"`);
    if (!SECRET_ARN.test(arn ?? '')) fail(`${type} must be a Secrets Manager secret ARN, got "${arn}"`);
  }
  if (glue && Object.keys(access).length)
    fail(
      `access configs (${Object.keys(access).join(', ')}) apply to Confluent registries; a Glue registry is read with the AWS credentials`,
    );
  if (access.BASIC_AUTH && access.CLIENT_CERTIFICATE_TLS_AUTH) fail('give BASIC_AUTH or CLIENT_CERTIFICATE_TLS_AUTH, not both');
}

/** Parses --schema-registry-access TYPE=SECRET_ARN. */
export function accessFlag(value: string): { type: string; uri: string } {
  const eq = value.indexOf('=');
  if (eq < 1)
    throw new LocalEsmConfigError(
      `--schema-registry-access must be TYPE=SECRET_ARN (TYPE ${ACCESS_TYPES.join(', ')}), got "${value}"`,
    );
  return { type: value.slice(0, eq), uri: value.slice(eq + 1) };
}

export interface RegistryConnection {
  readonly client: RegistryClient;
  close(): void;
}

/** The registry's client: Confluent's REST API with the access secrets, or Glue's API; AWS clients at `aws.endpoint`. */
export function connectRegistry(s: SchemaRegistrySettings, aws: { endpoint?: string; region?: string }): RegistryConnection {
  if (registryKind(s.uri) === 'glue') {
    const { GlueClient } = require('@aws-sdk/client-glue') as typeof import('@aws-sdk/client-glue');
    const glue = new GlueClient(localAwsSettings(aws.endpoint, aws.region ?? GLUE_REGISTRY_ARN.exec(s.uri)![1]));
    return { client: new GlueRegistryClient({ client: glue }), close: () => glue.destroy() };
  }
  const access = s.access ?? {};
  const secret = access.BASIC_AUTH ?? access.CLIENT_CERTIFICATE_TLS_AUTH;
  const anySecret = secret ?? access.SERVER_ROOT_CA_CERTIFICATE;
  const { SecretsManagerClient } = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
  const secrets = new SecretsManagerClient(localAwsSettings(aws.endpoint, aws.region ?? anySecret?.split(':')[3]));
  const client = new ConfluentRegistryClient({
    url: s.uri,
    auth: access.BASIC_AUTH ? 'basic' : access.CLIENT_CERTIFICATE_TLS_AUTH ? 'mtls' : 'none',
    secretArn: secret,
    rootCaSecretArn: access.SERVER_ROOT_CA_CERTIFICATE,
    secretsClient: secrets,
  });
  return { client, close: () => secrets.destroy() };
}
