/**
 * What redrive takes from a synthesized template's Kafka event source mapping: the cluster, the function, the
 * on-failure destination and the auth secrets. A value CloudFormation resolves only at deploy time (Ref, Fn::GetAtt, …)
 * is named with the flag to give instead, as `local` names them.
 */
import * as fs from 'node:fs';
import { LocalEsmConfigError } from '../errors';
import type { SaslMechanism } from '../kafka/secrets';

export interface RedriveTemplate {
  readonly bootstrapServers?: string[];
  /** An MSK cluster's ARN (aws:kafka events). */
  readonly eventSourceArn?: string;
  readonly functionName?: string;
  /** The on-failure destination's ARN or URI, when literal. */
  readonly onFailure?: string;
  /** The auth secret's ARN (SASL or mTLS) when literal, and how it authenticates. */
  readonly secretArn?: string;
  readonly mechanism?: SaslMechanism;
  readonly mtls?: boolean;
  readonly caSecretArn?: string;
  /** The mapping connects with TLS: it has auth or a root CA, or reads MSK. */
  readonly tls: boolean;
  /** Values the template does not give, each with the flags that give it instead (a flag given silences it). */
  readonly unresolved: ReadonlyArray<{ readonly flags: readonly string[]; readonly text: string }>;
}

const MAPPING = 'AWS::Lambda::EventSourceMapping';
const KINESIS_TYPES = new Set(['AWS::Kinesis::Stream', 'AWS::Kinesis::StreamConsumer']);
const SASL_TYPES: Record<string, SaslMechanism> = {
  SASL_SCRAM_512_AUTH: 'scram-sha-512',
  SASL_SCRAM_256_AUTH: 'scram-sha-256',
  BASIC_AUTH: 'plain',
};

type Properties = Record<string, any>;

export function redriveTemplate(file: string, logicalId?: string): RedriveTemplate {
  const { properties: p, kinesis } = chooseMapping(file, logicalId);
  const unresolved: Array<{ flags: string[]; text: string }> = [];
  // A Kinesis mapping's on-failure records name their stream; only the function and the destination are read here.
  if (kinesis) return { ...functionAndSource(p, unresolved), tls: false, unresolved };
  const literal = <T>(name: string, value: unknown, flags: string[], check: (v: unknown) => boolean): T | undefined => {
    if (value === undefined || check(value)) return value as T | undefined;
    unresolved.push({ flags, text: `${name} is ${shown(value)}, resolved at deploy time; give ${flags[0]}` });
    return undefined;
  };
  const servers = p.SelfManagedEventSource?.Endpoints?.KafkaBootstrapServers;
  const bootstrapServers = literal<string[]>(
    'SelfManagedEventSource.Endpoints.KafkaBootstrapServers',
    servers,
    ['--bootstrap-servers'],
    strings,
  );
  const eventSourceArn = literal<string>('EventSourceArn', p.EventSourceArn, ['--event-source-arn'], isString);
  if (p.EventSourceArn !== undefined && servers === undefined)
    unresolved.push({
      flags: ['--bootstrap-servers'],
      text: `the mapping reads an MSK cluster (EventSourceArn); give its brokers with --bootstrap-servers (aws kafka get-bootstrap-brokers --cluster-arn ${eventSourceArn ?? 'ARN'})`,
    });
  return {
    bootstrapServers,
    eventSourceArn,
    ...functionAndSource(p, unresolved),
    ...authOf(p, unresolved),
    tls: p.EventSourceArn !== undefined || accessConfigs(p).some((c) => !String(c.Type).startsWith('VPC_')),
    unresolved,
  };
}

/** The function the mapping invokes, and its on-failure destination, when literal. */
function functionAndSource(p: Properties, unresolved: Array<{ flags: string[]; text: string }>) {
  const functionName = isString(p.FunctionName) ? (p.FunctionName as string) : undefined;
  if (functionName === undefined)
    unresolved.push({
      flags: ['--function-name'],
      text: `the template's FunctionName is ${shown(p.FunctionName)}, resolved at deploy time; give the deployed name with --function-name`,
    });
  const destination = p.DestinationConfig?.OnFailure?.Destination;
  const onFailure = isString(destination) ? (destination as string) : undefined;
  if (destination !== undefined && onFailure === undefined)
    unresolved.push({
      flags: ['--from-sqs', '--from-s3', '--from-error-topic'],
      text: `the template's on-failure destination is ${shown(destination)}, resolved at deploy time; give the source (--from-sqs QUEUE_URL or --from-s3 s3://BUCKET)`,
    });
  return { functionName, onFailure };
}

/** The auth SourceAccessConfigurations names: a SASL or mTLS secret, and the root CA's. */
function authOf(p: Properties, unresolved: Array<{ flags: string[]; text: string }>): Partial<RedriveTemplate> {
  const auth: { secretArn?: string; mechanism?: SaslMechanism; mtls?: boolean; caSecretArn?: string } = {};
  for (const c of accessConfigs(p)) {
    const type = String(c.Type);
    const uri = isString(c.URI) ? (c.URI as string) : undefined;
    if (type === 'SERVER_ROOT_CA_CERTIFICATE') auth.caSecretArn = uri;
    else if (SASL_TYPES[type]) Object.assign(auth, { secretArn: uri, mechanism: SASL_TYPES[type] });
    else if (type === 'CLIENT_CERTIFICATE_TLS_AUTH') Object.assign(auth, { secretArn: uri, mtls: true });
    else continue;
    if (uri === undefined) {
      const [flag, instead] =
        type === 'SERVER_ROOT_CA_CERTIFICATE'
          ? ['--ca-secret-arn', '--ca-file']
          : type === 'CLIENT_CERTIFICATE_TLS_AUTH'
            ? ['--secret-arn', '--cert-file']
            : ['--secret-arn', '--username'];
      unresolved.push({
        flags: [flag, instead],
        text: `SourceAccessConfigurations ${type} secret is ${shown(c.URI)}, resolved at deploy time; give ${flag} with the deployed secret's ARN (or ${instead})`,
      });
    }
  }
  if (p.EventSourceArn !== undefined && auth.secretArn === undefined && auth.mtls === undefined && !auth.mechanism)
    unresolved.push({
      flags: ['--sasl', '--cert-file', '--secret-arn'],
      text: 'the mapping authenticates to MSK with IAM, which redrive does not: give a SCRAM user (--secret-arn, or --sasl) or a client certificate',
    });
  return auth;
}

const accessConfigs = (p: Properties): Array<{ Type?: unknown; URI?: unknown }> =>
  Array.isArray(p.SourceAccessConfigurations) ? p.SourceAccessConfigurations : [];

const isString = (v: unknown) => typeof v === 'string';
const strings = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(isString);

/** A CloudFormation value as the user sees it in the template: { Ref: X }, { Fn::GetAtt: [X, Arn] }, … */
function shown(v: unknown): string {
  const o = v as Record<string, unknown>;
  if (typeof o?.Ref === 'string') return `{ Ref: ${o.Ref} }`;
  if (Array.isArray(o?.['Fn::GetAtt'])) return `{ Fn::GetAtt: [${(o['Fn::GetAtt'] as unknown[]).join(', ')}] }`;
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** The mapping --mapping names, or the template's only Kafka or Kinesis mapping. */
function chooseMapping(file: string, logicalId: string | undefined): { properties: Properties; kinesis: boolean } {
  let resources: Record<string, { Type?: string; Properties?: Properties }>;
  try {
    resources = JSON.parse(fs.readFileSync(file, 'utf8')).Resources ?? {};
  } catch (e) {
    throw new LocalEsmConfigError(`--template ${file}: cannot read it as a CloudFormation template (${(e as Error).message})`);
  }
  const isKafka = (p: Properties | undefined) => p?.Topics !== undefined || p?.SelfManagedEventSource !== undefined;
  const isKinesis = (p: Properties | undefined) => {
    const arn = p?.EventSourceArn;
    const ref = arn?.['Fn::GetAtt']?.[0] ?? arn?.Ref;
    return isString(arn) ? /^arn:[^:]+:kinesis:/.test(arn) : KINESIS_TYPES.has(String(resources[ref]?.Type));
  };
  const mappings = Object.entries(resources).filter(
    ([, r]) => r.Type === MAPPING && (isKafka(r.Properties) || isKinesis(r.Properties)),
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
  return { properties: chosen[1].Properties ?? {}, kinesis: !isKafka(chosen[1].Properties) };
}
