/** The flags of `cdk-kafka-lambda migrate offsets`, read with node:util's parseArgs, and the groups a template gives. */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { KAFKA_CLIENT_FLAGS, kafkaClientConfig } from '../kafka/client-config';
import { MigrateOffsetsError, MigrateOffsetsOptions, TopicGroup } from './offsets';

export const MIGRATE_OFFSETS_USAGE = `usage: cdk-kafka-lambda migrate offsets --connector NAME [--connector-group GROUP_ID]
  (--group TOPIC=GROUP_ID … | --template cdk.out/STACK.template.json) [--bootstrap-servers host:port[,…]]
  [--sasl scram-sha-256|scram-sha-512|plain --username U --password P] [--tls] [--ca-file PEM] [--cert-file PEM --key-file PEM]
  [--msk-iam --region R] [--dry-run] [--force]

  Copies a Kafka Connect sink connector's committed offsets (group connect-NAME) into the consumer group of each
  event source mapping (one group per topic), before the mappings exist or while they are disabled: a mapping that
  joins a group with committed offsets starts there, whatever its StartingPosition says.
  --connector NAME              the connector's name; its tasks commit to the group connect-NAME
  --connector-group GROUP_ID    the connector's group when its config overrides it (consumer.override.group.id)
  --group TOPIC=GROUP_ID        a mapping's topic and its ConsumerGroupId (repeat per topic)
  --template FILE               every Kafka event source mapping of a synthesized template: its Topics and
                                ConsumerGroupId (and its bootstrap servers); --group wins for its topic
  --bootstrap-servers, --sasl, --tls, --ca-file, --cert-file, --key-file
                                the cluster and auth, as \`local\` takes them
  --msk-iam                     authenticate to MSK with IAM (SASL OAUTHBEARER over TLS, the AWS SDK's
                                credentials, --region or AWS_REGION)
  --dry-run                     print what would be committed, commit nothing
  --force                       move a group backwards (its committed offset is past the connector's)
  Refuses while the connector's group has active members (stop the connector), while a target group has
  (disable the mapping), and when a group would move backwards without --force. Prints per topic-partition:
  from (the group's committed offset, or none), to (the connector's), the high watermark and the lag.`;

const FLAGS = {
  connector: { type: 'string' },
  'connector-group': { type: 'string' },
  group: { type: 'string', multiple: true },
  template: { type: 'string' },
  'bootstrap-servers': { type: 'string' },
  ...KAFKA_CLIENT_FLAGS,
  region: { type: 'string' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
} as const;

export interface ParsedMigrateOffsets {
  readonly options: MigrateOffsetsOptions;
  /** What the template holds that is not used (a mapping's topic already given by --group). */
  readonly notices: string[];
}

export function parseMigrateOffsetsArgs(argv: string[]): ParsedMigrateOffsets {
  const { values } = parseArgs({ args: argv, options: FLAGS, allowPositionals: false });
  if (!values.connector) throw new MigrateOffsetsError(`--connector is required\n${MIGRATE_OFFSETS_USAGE}`);
  const flagGroups = (values.group ?? []).map(groupFlag);
  const fromTemplate = values.template ? templateGroups(values.template, new Set(flagGroups.map((g) => g.topic))) : undefined;
  const groups = [...flagGroups, ...(fromTemplate?.groups ?? [])];
  if (!groups.length)
    throw new MigrateOffsetsError(`give the mappings' groups: --group TOPIC=GROUP_ID or --template\n${MIGRATE_OFFSETS_USAGE}`);
  const brokers = (values['bootstrap-servers']?.split(',') ?? fromTemplate?.bootstrapServers ?? []).filter(Boolean);
  if (!brokers.length)
    throw new MigrateOffsetsError(
      `--bootstrap-servers is required (the template gives none as a literal)\n${MIGRATE_OFFSETS_USAGE}`,
    );
  if (!values.sasl && (values.username !== undefined || values.password !== undefined))
    throw new MigrateOffsetsError('--username and --password need --sasl scram-sha-256|scram-sha-512|plain');
  const kafka = kafkaClientConfig(values, brokers, 'cdk-kafka-lambda-migrate');
  return {
    options: {
      kafka,
      connector: values.connector,
      connectorGroup: values['connector-group'],
      groups,
      dryRun: !!values['dry-run'],
      force: !!values.force,
    },
    notices: fromTemplate?.notices ?? [],
  };
}

function groupFlag(v: string): TopicGroup {
  const at = v.lastIndexOf('=');
  const topic = v.slice(0, at);
  const groupId = v.slice(at + 1);
  if (at <= 0 || !groupId) throw new MigrateOffsetsError(`--group must be TOPIC=GROUP_ID, got "${v}"`);
  return { topic, groupId };
}

interface TemplateGroups {
  readonly groups: TopicGroup[];
  readonly bootstrapServers?: string[];
  readonly notices: string[];
}

type Resource = { Type?: string; Properties?: Record<string, any> };

/**
 * Each Kafka mapping's topic and literal ConsumerGroupId. A mapping without a literal one (none given: the mapping
 * uses its UUID; or one resolved at deploy time) is refused with what to give, unless --group gives its topic.
 */
export function templateGroups(file: string, given: ReadonlySet<string>): TemplateGroups {
  let resources: Record<string, Resource>;
  try {
    resources = JSON.parse(fs.readFileSync(file, 'utf8')).Resources ?? {};
  } catch (e) {
    throw new MigrateOffsetsError(`--template ${file}: cannot read it as a CloudFormation template (${(e as Error).message})`);
  }
  const groups: TopicGroup[] = [];
  const notices: string[] = [];
  const missing: string[] = [];
  let bootstrapServers: string[] | undefined;
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (r.Type !== 'AWS::Lambda::EventSourceMapping' || !Array.isArray(p.Topics)) continue;
    const servers = p.SelfManagedEventSource?.Endpoints?.KafkaBootstrapServers;
    if (Array.isArray(servers) && servers.every((s) => typeof s === 'string')) bootstrapServers ??= servers;
    const groupId = (p.SelfManagedKafkaEventSourceConfig ?? p.AmazonManagedKafkaEventSourceConfig)?.ConsumerGroupId;
    for (const topic of p.Topics) {
      if (typeof topic !== 'string') {
        missing.push(`${id}: its topic is resolved at deploy time; give --group TOPIC=GROUP_ID`);
      } else if (given.has(topic)) {
        notices.push(`${id}: topic "${topic}" given by --group`);
      } else if (typeof groupId === 'string') {
        groups.push({ topic, groupId });
      } else {
        missing.push(
          groupId === undefined
            ? `${id} (topic "${topic}") has no ConsumerGroupId: the mapping would use its UUID, known only once deployed; ` +
                `pin a group (consumerGroupId) and synthesize again, or give --group ${topic}=GROUP_ID`
            : `${id} (topic "${topic}"): its ConsumerGroupId is resolved at deploy time; give --group ${topic}=GROUP_ID`,
        );
      }
    }
  }
  if (missing.length) throw new MigrateOffsetsError(`--template ${file}: ${missing.join('; ')}`);
  if (!groups.length && !notices.length)
    throw new MigrateOffsetsError(
      `--template ${file} holds no Kafka event source mapping (AWS::Lambda::EventSourceMapping with Topics)`,
    );
  return { groups, bootstrapServers, notices };
}
