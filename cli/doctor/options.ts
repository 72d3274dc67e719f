/** The flags of `cdk-kafka-lambda doctor`, read with node:util's parseArgs; settings from --template, flags winning. */
import { parseArgs } from 'node:util';
import type { KafkaConfig } from 'kafkajs';
import { KAFKA_CLIENT_FLAGS, kafkaClientConfig } from '../kafka/client-config';
import {
  accessFlag,
  mergeSchemaRegistryProps,
  SchemaRegistryProps,
  validateSchemaRegistry,
  SchemaRegistrySettings,
} from '../kafka/schemas-config';
import { LocalEsmConfigError } from '../errors';
import { settingsFromTemplate } from '../template';
import { dispatcherTopics } from './template';
import { redriveTemplate } from '../redrive/template';
import type { SaslMechanism, SecretAuthRequest } from '../kafka/secrets';

export const DOCTOR_USAGE = `usage: cdk-kafka-lambda doctor --bootstrap-servers host:port[,…] --topic T [--topic T2]
  [--template cdk.out/STACK.template.json [--mapping LOGICAL_ID]] [--consumer-group-id ID]
  [--sasl scram-sha-256|scram-sha-512|plain --username U --password P | --msk-iam] [--tls] [--ca-file PEM] [--cert-file PEM --key-file PEM]
  [--response-topic T …] [--error-topic T …] [--on-failure kafka://T]
  [--schema-registry URL [--schema-registry-access BASIC_AUTH|CLIENT_CERTIFICATE_TLS_AUTH|SERVER_ROOT_CA_CERTIFICATE=SECRET_ARN …]]
  [--secret-arn ARN] [--ca-secret-arn ARN] [--aws-endpoint URL] [--region R] [--timeout SECONDS]

  Checks, in order, what the mapping will need from the cluster, and prints each check as passed or failed, with
  the "PROBLEM: …" text the mapping would show (LastProcessingResult) and the fix:
    1. DNS and TCP to each bootstrap server
    2. TLS handshake and the broker's certificate chain against the root CA (--ca-file; the system's roots without it)
    3. authentication: SASL with --username/--password, or mTLS with --cert-file/--key-file
    4. each topic exists (its partition count); the response, error and on-failure topics too
    5. the consumer group can be described and has no active members
    6. ACLs of the user (DescribeAcls): Describe and Read on each topic, Describe and Read on the group, Write on
       the response, error and on-failure topics
    7. the schema registry answers GET /subjects with its access secrets (read from Secrets Manager)
  A failed check skips the checks that need it ("skipped (needs …)").
  --bootstrap-servers, --sasl, --tls, --ca-file, --cert-file, --key-file   as \`local\` takes them
  --secret-arn ARN              the mapping's auth secret in Secrets Manager: SASL {username, password} (with --sasl,
                                or the template's mechanism) or mTLS {certificate, privateKey[, privateKeyPassword]}
  --ca-secret-arn ARN           the root CA's secret {certificate}; without these, the template's literal secrets
  --template, --mapping         the mapping's brokers, topics, consumer group, on-failure destination and schema
                                registry from a synthesized template, and the dispatcher's response and error
                                topics where the template holds them as text; the auth is given as flags
  --consumer-group-id ID        the mapping's group (without one in the template or here, step 5 is not checked:
                                a mapping without ConsumerGroupId uses its UUID, known after deploy)
  --timeout SECONDS             per network step (default 10)
  No output holds a password or a record's bytes. Exit status: 0 when every check passed; 1 when one failed, was
  skipped or could not be checked; 2 for a usage error.`;

/** A topic the mapping or the dispatcher's relay writes to, and what writes it. */
export interface WriteTopic {
  readonly role: 'response' | 'error' | 'on-failure';
  readonly topic: string;
}

export interface DoctorOptions {
  readonly brokers: string[];
  readonly kafka: KafkaConfig;
  readonly topics: string[];
  readonly consumerGroupId?: string;
  readonly writeTopics: WriteTopic[];
  readonly schemaRegistry?: SchemaRegistrySettings;
  readonly awsEndpoint?: string;
  readonly region?: string;
  readonly timeoutMs: number;
  /** What the template holds but the checks cannot use. */
  readonly notices: string[];
  /** The auth secrets to read (--secret-arn, --ca-secret-arn, else the template's literal ones): none when empty. */
  readonly secrets: SecretAuthRequest;
}

const FLAGS = {
  template: { type: 'string' },
  mapping: { type: 'string' },
  'bootstrap-servers': { type: 'string' },
  topic: { type: 'string', multiple: true },
  'consumer-group-id': { type: 'string' },
  'response-topic': { type: 'string', multiple: true },
  'error-topic': { type: 'string', multiple: true },
  'on-failure': { type: 'string' },
  'schema-registry': { type: 'string' },
  'schema-registry-access': { type: 'string', multiple: true },
  'aws-endpoint': { type: 'string' },
  region: { type: 'string' },
  timeout: { type: 'string' },
  'secret-arn': { type: 'string' },
  'ca-secret-arn': { type: 'string' },
  ...KAFKA_CLIENT_FLAGS,
} as const;

type Flags = ReturnType<typeof parseArgs<{ args: string[]; options: typeof FLAGS }>>['values'];

export function parseDoctorArgs(argv: string[]): DoctorOptions {
  const { values } = parseArgs({ args: argv, options: FLAGS });
  if (values.mapping && !values.template)
    throw new LocalEsmConfigError('--mapping chooses a mapping of --template; give --template too');
  const fromTemplate = values.template ? settingsFromTemplate(values.template, values.mapping) : undefined;
  if (fromTemplate?.kind === 'kinesis')
    throw new LocalEsmConfigError(`--template: the mapping is a Kinesis one; doctor checks Kafka mappings`);
  const p = fromTemplate?.props ?? {};
  const brokers = values['bootstrap-servers']?.split(',').filter(Boolean) ?? p.bootstrapServers;
  if (!brokers?.length)
    throw new LocalEsmConfigError(`--bootstrap-servers (or the template's KafkaBootstrapServers) is required\n${DOCTOR_USAGE}`);
  const topics = values.topic ?? p.topics ?? (p.topic ? [p.topic] : []);
  if (!topics.length) throw new LocalEsmConfigError(`--topic (or the template's Topics) is required\n${DOCTOR_USAGE}`);
  const timeout = Number(values.timeout ?? 10);
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw new LocalEsmConfigError(`--timeout must be a number above 0, got "${values.timeout}"`);
  const relay = values.template ? dispatcherTopics(values.template, values.mapping) : { responseTopics: [], errorTopics: [] };
  return {
    brokers,
    kafka: kafkaClientConfig(values, brokers, 'cdk-kafka-lambda-doctor'),
    topics,
    consumerGroupId: values['consumer-group-id'] ?? p.consumerGroupId,
    writeTopics: writeTopics(values, relay, p.onFailure),
    schemaRegistry: registrySettings(values, p.schemaRegistryConfig),
    awsEndpoint: values['aws-endpoint'],
    region: values.region,
    timeoutMs: timeout * 1000,
    secrets: secretsOf(values),
    // What the template leaves to flags among what doctor reads: the brokers, topics, group, auth and registry.
    notices: (fromTemplate?.ignored ?? []).filter((n) =>
      /Topics|Bootstrap|ConsumerGroupId|SourceAccessConfigurations|SchemaRegistry/.test(n),
    ),
  };
}

/**
 * The secrets to read: the flags', else the template's literal ones, unless the flags give that auth themselves
 * (--username, --cert-file; --ca-file for the root CA).
 */
function secretsOf(values: Flags): SecretAuthRequest {
  const t = values.template ? redriveTemplate(values.template, values.mapping) : undefined;
  const flagsGiveAuth = t?.mtls ? !!values['cert-file'] : !!values.username;
  return {
    secretArn: values['secret-arn'] ?? (flagsGiveAuth ? undefined : t?.secretArn),
    secretFlag: values['secret-arn'] ? '--secret-arn' : "--secret-arn (the template's auth secret)",
    mechanism: (values.sasl as SaslMechanism | undefined) ?? t?.mechanism,
    mtls: values.sasl ? false : t?.mtls,
    caSecretArn: values['ca-secret-arn'] ?? (values['ca-file'] ? undefined : t?.caSecretArn),
    caSecretFlag: values['ca-secret-arn'] ? '--ca-secret-arn' : "--ca-secret-arn (the template's SERVER_ROOT_CA_CERTIFICATE)",
    endpoint: values['aws-endpoint'],
    region: values.region,
  };
}

function writeTopics(
  values: Flags,
  relay: { responseTopics: string[]; errorTopics: string[] },
  templateOnFailure: string | undefined,
): WriteTopic[] {
  const onFailure = values['on-failure'] ?? templateOnFailure;
  if (values['on-failure'] && !values['on-failure'].startsWith('kafka://'))
    throw new LocalEsmConfigError(
      `--on-failure must be kafka://TOPIC (doctor checks Kafka destinations), got "${values['on-failure']}"`,
    );
  const list: WriteTopic[] = [
    ...(values['response-topic'] ?? relay.responseTopics).map((topic) => ({ role: 'response' as const, topic })),
    ...(values['error-topic'] ?? relay.errorTopics).map((topic) => ({ role: 'error' as const, topic })),
    ...(onFailure?.startsWith('kafka://') ? [{ role: 'on-failure' as const, topic: onFailure.slice('kafka://'.length) }] : []),
  ];
  return list.filter((w, i) => list.findIndex((o) => o.role === w.role && o.topic === w.topic) === i);
}

/** The registry's settings, as `local` merges them; only the URI and the access secrets matter to GET /subjects. */
function registrySettings(values: Flags, fromTemplate: SchemaRegistryProps | undefined): SchemaRegistrySettings | undefined {
  const merged = mergeSchemaRegistryProps([
    fromTemplate,
    { schemaRegistryUri: values['schema-registry'], accessConfigs: values['schema-registry-access']?.map(accessFlag) },
  ]);
  if (!merged?.schemaRegistryUri) return undefined;
  const access: Record<string, string> = {};
  for (const a of merged.accessConfigs ?? []) {
    if (!a.uri)
      throw new LocalEsmConfigError(
        `schema registry: ${a.type} needs its secret's ARN: give --schema-registry-access ${a.type}=<secret ARN>`,
      );
    access[a.type] = a.uri;
  }
  const settings: SchemaRegistrySettings = {
    uri: merged.schemaRegistryUri,
    eventRecordFormat: 'JSON',
    attributes: ['VALUE'],
    access,
  };
  validateSchemaRegistry(settings);
  return settings;
}
