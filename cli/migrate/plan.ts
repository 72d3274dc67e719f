/**
 * `cdk-kafka-lambda migrate plan`: a Kafka Connect Lambda sink connector's config as LambdaSinkConnector code, every
 * key accounted for, and the consumer group each mapping will use in place of the connector's `connect-<name>`.
 */
import { GeneratedApp, Language, obj, pythonApp, typeScriptApp } from './codegen';
import { ConnectorKind, Derivation, KeyRow, SecretToCreate } from './derivation';
import { credentialKeys, errorKeys, relayKeys } from './error-keys';
import { generatedGroupIds, validGroupId } from './group-ids';
import { batchKeys, detectConnector, functionKeys, identityKeys } from './keys';
import { converterKeys, frameworkKeys } from './other-keys';
import { ConnectorConfig, ConnectorConfigError } from './read-config';
import { brokers, securityKeys } from './security-keys';

/**
 * Whether the code pins each topic's group with LambdaSinkConnectorProps `consumerGroupIds` (issue 32 part 3): a
 * renamed construct keeps its groups and their offsets. Without it the plan names the groups the path generates.
 */
export const PIN_GROUP_IDS = true;

export interface PlanOptions {
  readonly language?: Language;
  /** The construct id; default: the connector's name in PascalCase. */
  readonly constructId?: string;
}

export interface MigrationPlan {
  readonly kind: ConnectorKind;
  readonly connectorName: string;
  /** The group the connector committed to: connect-<name>, or its consumer.override.group.id. */
  readonly connectorGroup: string;
  readonly app: GeneratedApp;
  readonly code: string;
  readonly language: Language;
  /** Each topic's consumer group under the construct. */
  readonly groups: Array<{ readonly topic: string; readonly groupId: string }>;
  /** Whether the code pins the groups (consumerGroupIds) rather than the construct path generating them. */
  readonly pinned: boolean;
  readonly rows: KeyRow[];
  readonly secrets: SecretToCreate[];
  readonly notes: string[];
  /** The brokers the code names, when the config gives them (for the offsets command line). */
  readonly bootstrapServers?: string[];
  /** The connector's auth as `migrate offsets` flags (without credentials). */
  readonly offsetsAuthFlags: string;
}

const PROP_ORDER = [
  'cluster',
  'topics',
  'consumerGroupIds',
  'auth',
  'target',
  'targetRole',
  'targetRoleExternalId',
  'invocationType',
  'payloadFormat',
  'recordsPerInvocation',
  'batchSize',
  'startingPosition',
  'dispatcherTimeout',
  'onError',
  'responseTopic',
  'errorTopic',
  'schemas',
];

/** The ids of the constructs the code imports beside the connector in its stack. */
const SIBLING_IDS = [
  'Target',
  'TargetRole',
  'KafkaCredentials',
  'KafkaClientCertificate',
  'KafkaRootCa',
  'SchemaRegistryCredentials',
];

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

const CONNECTOR_TITLE: Record<ConnectorKind, string> = {
  confluent: "Confluent's AWS Lambda sink connector",
  nordstrom: "Nordstrom's kafka-connect-lambda",
};

/** The plan of a connector config. */
export function buildPlan(cfg: ConnectorConfig, options: PlanOptions = {}): MigrationPlan {
  const kind = detectConnector(cfg.config);
  if (kind === undefined)
    throw new ConnectorConfigError(
      `connector.class ${cfg.config['connector.class'] ?? '(none)'} is neither Confluent's io.confluent.connect.aws.lambda.AwsLambdaSinkConnector nor Nordstrom's com.nordstrom.kafka.connect.lambda.LambdaSinkConnector`,
    );
  const name = cfg.name ?? cfg.config.name;
  if (!name)
    throw new ConnectorConfigError(
      'the config has no name: give the REST response of GET /connectors/<name>, or add name=<connector name>',
    );
  const derived = pascal(name);
  const fallback = /^[A-Za-z]/.test(derived) ? `${derived}Connector` : `Connector${derived}`;
  const id = options.constructId ?? (/^[A-Za-z]/.test(derived) && !SIBLING_IDS.includes(derived) ? derived : fallback);
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(id) || SIBLING_IDS.includes(id))
    throw new ConnectorConfigError(
      `--name must be letters and digits, starting with a letter, and none of ${SIBLING_IDS.join(', ')}, got "${id}"`,
    );
  const language = options.language ?? 'typescript';
  const d = new Derivation(cfg.config, kind, name);
  const arnRegion = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):/.exec(
    cfg.config['aws.lambda.function.arn'] ?? cfg.config['aws.lambda.function.name'] ?? '',
  )?.[1];
  const region = d.get('aws.region') ?? d.get('aws.lambda.region') ?? arnRegion;
  const connectorGroup = d.get('consumer.override.group.id') ?? `connect-${name}`;
  if (arnRegion !== undefined && region !== arnRegion)
    d.notes.push(
      `The function's ARN is in ${arnRegion} but the config names the region ${region}: the code deploys the stack to ${region}, ` +
        `and the dispatcher invokes the function in its own region; deploy the stack to ${arnRegion} (env.region) or name a function in ${region}.`,
    );
  identityKeys(d, id);
  functionKeys(d);
  batchKeys(d);
  errorKeys(d);
  relayKeys(d);
  credentialKeys(d);
  securityKeys(d, region);
  converterKeys(d, region);
  frameworkKeys(d, connectorGroup);
  const topics = (d.prop('topics')?.value as string[]) ?? [];
  const stackName = `${id}Stack`;
  const groups = groupIds(d, stackName, id, topics);
  const app: GeneratedApp = {
    stackClass: stackName,
    stackName,
    constructId: id,
    region,
    header: [
      `From the Kafka Connect connector "${name}" (${CONNECTOR_TITLE[kind]}): cdk-kafka-lambda migrate plan.`,
      `Each prop's comment names the connector keys it comes from.`,
    ],
    props: d.orderedProps(PROP_ORDER),
  };
  const code = language === 'python' ? pythonApp(app) : typeScriptApp(app);
  return {
    kind,
    connectorName: name,
    connectorGroup,
    app,
    code,
    language,
    groups,
    pinned: PIN_GROUP_IDS,
    rows: d.allRows(),
    secrets: d.secrets,
    notes: d.notes,
    bootstrapServers: brokers(d).servers.length ? brokers(d).servers : undefined,
    offsetsAuthFlags: offsetsAuth(d),
  };
}

/** The auth flags of `migrate offsets` for the connector's consumer settings (credentials left as placeholders). */
function offsetsAuth(d: Derivation): string {
  const protocol = d.get('consumer.override.security.protocol')?.toUpperCase();
  const mechanism = d.get('consumer.override.sasl.mechanism')?.toUpperCase();
  if (protocol === undefined) return '[auth flags, as local takes them]';
  if (mechanism === 'AWS_MSK_IAM') return '--msk-iam --region REGION';
  if (protocol === 'SSL') return '--tls --ca-file CA.pem --cert-file CLIENT.pem --key-file CLIENT-KEY.pem';
  if (protocol.startsWith('SASL'))
    return `--tls --sasl ${(mechanism ?? 'plain').toLowerCase()} --username USER --password PASSWORD`;
  return '';
}

/** The group of each topic: pinned with consumerGroupIds when the library has it, else as the construct path makes them. */
function groupIds(d: Derivation, stackName: string, id: string, topics: string[]) {
  if (!PIN_GROUP_IDS) return generatedGroupIds(stackName, id, topics).map((groupId, i) => ({ topic: topics[i], groupId }));
  const groups = topics.map((topic) => ({
    topic,
    groupId: `lambda-${d.name}-${topic}`.replace(/[^a-zA-Z0-9\-/*:_+=.@]/g, '-').slice(0, 200),
  }));
  for (const g of groups) if (!validGroupId(g.groupId)) throw new ConnectorConfigError(`cannot make a group ID of ${g.topic}`);
  if (groups.length) d.set('consumerGroupIds', obj(Object.fromEntries(groups.map((g) => [g.topic, g.groupId]))), 'topics');
  return groups;
}
