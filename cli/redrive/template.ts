/**
 * What redrive takes from a synthesized template's Kafka event source mapping: the cluster, the function, the
 * on-failure destination and the auth secrets. A value CloudFormation resolves only at deploy time (Ref, Fn::GetAtt, …)
 * is named with the flag to give instead, as `local` names them.
 */
import type { SaslMechanism } from '../kafka/secrets';
import { templateMapping } from '../template';

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

const SASL_TYPES: Record<string, SaslMechanism> = {
  SASL_SCRAM_512_AUTH: 'scram-sha-512',
  SASL_SCRAM_256_AUTH: 'scram-sha-256',
  BASIC_AUTH: 'plain',
};

type Properties = Record<string, any>;

export function redriveTemplate(file: string, logicalId?: string): RedriveTemplate {
  const { properties: p, kind } = templateMapping(file, logicalId);
  const kinesis = kind === 'kinesis';
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
      flags: ['--msk-iam', '--sasl', '--cert-file', '--secret-arn'],
      text: 'the mapping authenticates to MSK with IAM: give --msk-iam (with --region) to read the cluster with your AWS credentials',
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
