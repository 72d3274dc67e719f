/** The flags of `cdk-kafka-lambda redrive`, read with node:util's parseArgs. */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { KafkaConfig } from 'kafkajs';
import { KAFKA_CLIENT_FLAGS, KafkaClientFlags, kafkaClientConfig } from '../kafka/client-config';
import type { SecretAuth } from '../kafka/secrets';
import { LocalEsmConfigError } from '../errors';

export const REDRIVE_USAGE = `usage: cdk-kafka-lambda redrive (--from-sqs QUEUE_URL | --from-s3 s3://BUCKET[/PREFIX] | --from-error-topic TOPIC)
  [--template cdk.out/STACK.template.json [--mapping LOGICAL_ID]] [--secret-arn ARN] [--ca-secret-arn ARN]
  [--bootstrap-servers host:port[,…]] [--kinesis-endpoint URL] --function-name NAME|ARN
  [--sasl scram-sha-256|scram-sha-512|plain --username U --password P | --msk-iam] [--tls] [--ca-file PEM] [--cert-file PEM --key-file PEM]
  [--event-source-arn MSK_CLUSTER_ARN] [--lambda-endpoint URL] [--aws-endpoint URL] [--region R]
  [--state-file PATH] [--max-records-per-second N] [--batch-size N] [--dry-run]

  Sends the records of failed batches again, as an event of the mapping's own shape (SelfManagedKafka, or
  aws:kafka with --event-source-arn; base64 records grouped by topic-partition; aws:kinesis for a stream's
  records), to a function through the Lambda Invoke API: the dispatcher (its idempotency skips what its target already ran) or any function.
  --from-sqs QUEUE_URL          the mapping's on-failure records (KafkaBatchInfo, also SNS-delivered) in a queue;
                                their records are read again from the source topic by offset; a message is
                                deleted once all its records succeeded; Kinesis ones (KinesisBatchInfo) are read
                                again from the stream by sequence number
  --from-s3 s3://BUCKET[/PREFIX] the on-failure objects of an S3 destination (the whole invocation record): Kafka
                                records carried in its payload go as they are, in an event naming its cluster;
                                otherwise (and for Kinesis) they are read again; objects are never deleted, the
                                state file records those done
  --from-error-topic TOPIC      the dispatcher's error records (error topic), read from its beginning; records
                                carried with their bytes are sent as they are, truncated ones are read again
  --template FILE [--mapping ID] the settings of the template's event source mapping (the only Kafka or Kinesis
                                one, or --mapping's): its bootstrap servers, MSK cluster ARN, function, auth
                                secrets, and its on-failure destination (SQS queue or S3 bucket) as the source
                                when no --from-* is given; flags win, and a source, --bootstrap-servers and
                                --function-name are needed only where the template does not give them (what it
                                resolves only at deploy time is named with the flag to give)
  --secret-arn ARN              the mapping's auth secret in Secrets Manager: SASL {username, password} (with the
                                template's mechanism or --sasl), or mTLS {certificate, privateKey[, privateKeyPassword]}
  --ca-secret-arn ARN           the root CA's secret {certificate} (SERVER_ROOT_CA_CERTIFICATE); Secrets Manager's
                                endpoint is --aws-endpoint or the SDK's
  --bootstrap-servers, --sasl, --tls, --ca-file, --cert-file, --key-file
                                the source cluster and the mapping's auth, as \`local\` takes them (required for
                                Kafka records read again by offset; not for Kinesis ones)
  --kinesis-endpoint URL        the Kinesis API a Kinesis range is read again from (GetShardIterator
                                AT_SEQUENCE_NUMBER, GetRecords), as \`local\` takes it (default: the SDK's)
  --function-name NAME|ARN      the function invoked (endpoint: --lambda-endpoint, AWS_ENDPOINT_URL_LAMBDA or the SDK's config)
  --state-file PATH             what is done (record coordinates), so a second run continues
                                (default ./.cdk-kafka-lambda-redrive.json)
  --max-records-per-second N    a rate bound on the records sent (default: none)
  --batch-size N                records per invocation, at most (default 100; 6 MB payload bound too)
  --dry-run                     list what would be sent where (coordinates only), send and delete nothing
  A record already past retention (an offset below the log start; a sequence number the shard no longer holds)
  is reported by its coordinates (topic-partition@offset, stream/shardId@sequenceNumber) as expired. Progress goes
  to stderr: on a terminal one line rewritten in place (records sent/total, rate, ETA), otherwise a line per
  invocation; the summary line (redriven, already done, failed again, expired) to stdout.`;

export interface RedriveOptions {
  readonly fromSqs?: string;
  readonly fromErrorTopic?: string;
  /** s3://bucket[/prefix] of an S3 on-failure destination. */
  readonly fromS3?: string;
  readonly kinesisEndpoint?: string;
  readonly kafka: KafkaConfig;
  readonly bootstrapServers: string;
  readonly eventSourceArn?: string;
  readonly functionName: string;
  readonly lambdaEndpoint?: string;
  readonly awsEndpoint?: string;
  readonly region?: string;
  readonly stateFile: string;
  readonly maxRecordsPerSecond?: number;
  readonly batchSize: number;
  readonly dryRun: boolean;
}

const FLAGS = {
  template: { type: 'string' },
  mapping: { type: 'string' },
  'secret-arn': { type: 'string' },
  'ca-secret-arn': { type: 'string' },
  'from-sqs': { type: 'string' },
  'from-error-topic': { type: 'string' },
  'from-s3': { type: 'string' },
  'kinesis-endpoint': { type: 'string' },
  'bootstrap-servers': { type: 'string' },
  'event-source-arn': { type: 'string' },
  'function-name': { type: 'string' },
  'lambda-endpoint': { type: 'string' },
  'aws-endpoint': { type: 'string' },
  region: { type: 'string' },
  ...KAFKA_CLIENT_FLAGS,
  'state-file': { type: 'string' },
  'max-records-per-second': { type: 'string' },
  'batch-size': { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

function positive(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new LocalEsmConfigError(`--${flag} must be a number above 0, got "${v}"`);
  return n;
}

/** The flags as given. */
export function readRedriveFlags(argv: string[]) {
  return parseArgs({ args: argv, options: FLAGS }).values;
}

/** What --template and the secrets give (cli/redrive/settings.ts); a flag wins over each. */
export interface RedriveDefaults {
  readonly fromSqs?: string;
  readonly fromS3?: string;
  readonly bootstrapServers?: string[];
  readonly eventSourceArn?: string;
  readonly functionName?: string;
  /** The mapping connects with TLS. */
  readonly tls?: boolean;
  readonly auth?: SecretAuth;
  /** Why the template does not give a required setting: "the template's FunctionName is { Ref: X } …". */
  readonly missing?: { readonly source?: string; readonly bootstrapServers?: string; readonly functionName?: string };
}

export function parseRedriveArgs(argv: string[], defaults?: RedriveDefaults): RedriveOptions {
  const flags = readRedriveFlags(argv);
  if (!defaults && (flags.template || flags['secret-arn'] || flags['ca-secret-arn']))
    throw new LocalEsmConfigError(
      '--template, --secret-arn and --ca-secret-arn are read by redriveSettings (cli/redrive/settings.ts)',
    );
  const d = defaults ?? {};
  const given = !!(flags['from-sqs'] || flags['from-s3'] || flags['from-error-topic']);
  const values = {
    ...flags,
    'from-sqs': flags['from-sqs'] ?? (given ? undefined : d.fromSqs),
    'from-s3': flags['from-s3'] ?? (given ? undefined : d.fromS3),
    'bootstrap-servers': flags['bootstrap-servers'] ?? d.bootstrapServers?.join(','),
    'event-source-arn': flags['event-source-arn'] ?? d.eventSourceArn,
    'function-name': flags['function-name'] ?? d.functionName,
  };
  const why = (text: string | undefined) => (text ? ` (${text})` : '');
  if ([values['from-sqs'], values['from-s3'], values['from-error-topic']].filter(Boolean).length !== 1)
    throw new LocalEsmConfigError(
      `give one source: --from-sqs QUEUE_URL, --from-s3 s3://BUCKET[/PREFIX] or --from-error-topic TOPIC${why(d.missing?.source)}\n${REDRIVE_USAGE}`,
    );
  if (values['from-s3'] && !/^s3:\/\/[^/]+/.test(values['from-s3']))
    throw new LocalEsmConfigError(`--from-s3 must be s3://BUCKET[/PREFIX], got "${values['from-s3']}"`);
  const brokers = values['bootstrap-servers']?.split(',').filter(Boolean) ?? [];
  // Kinesis on-failure records need no cluster; a Kafka one met without it is refused when it is read.
  if (!brokers.length && values['from-error-topic'])
    throw new LocalEsmConfigError(
      `--bootstrap-servers is required (the source topic's cluster)${why(d.missing?.bootstrapServers)}\n${REDRIVE_USAGE}`,
    );
  if (!values['function-name'])
    throw new LocalEsmConfigError(
      `--function-name is required (the dispatcher, or any function)${why(d.missing?.functionName)}\n${REDRIVE_USAGE}`,
    );
  const batchSize = positive('batch-size', values['batch-size']) ?? 100;
  return {
    fromSqs: values['from-sqs'],
    fromErrorTopic: values['from-error-topic'],
    fromS3: values['from-s3'],
    kinesisEndpoint: values['kinesis-endpoint'],
    kafka: withSecretAuth(kafkaClientConfig(values, brokers, 'cdk-kafka-lambda-redrive'), values, d),
    bootstrapServers: brokers.join(','),
    eventSourceArn: values['event-source-arn'],
    functionName: values['function-name'],
    lambdaEndpoint: values['lambda-endpoint'],
    awsEndpoint: values['aws-endpoint'],
    region: values.region,
    stateFile: path.resolve(values['state-file'] ?? '.cdk-kafka-lambda-redrive.json'),
    maxRecordsPerSecond: positive('max-records-per-second', values['max-records-per-second']),
    batchSize: Math.floor(batchSize),
    dryRun: values['dry-run'] ?? false,
  };
}

/** The template's TLS and the secrets' auth under what the flags give: a flag wins over each. */
function withSecretAuth(kafka: KafkaConfig, flags: KafkaClientFlags, d: RedriveDefaults): KafkaConfig {
  const secretSsl = d.auth?.ssl ?? {};
  const flagSsl = typeof kafka.ssl === 'object' ? kafka.ssl : {};
  const ssl = {
    ...(flags['ca-file'] ? {} : secretSsl.ca && { ca: secretSsl.ca }),
    ...(flags['cert-file']
      ? {}
      : secretSsl.cert && { cert: secretSsl.cert, key: secretSsl.key, passphrase: secretSsl.passphrase }),
    ...flagSsl,
  };
  const tls = !!kafka.ssl || d.tls || Object.keys(ssl).length > 0;
  const sasl = d.auth?.sasl && {
    mechanism: flags.sasl ?? d.auth.sasl.mechanism,
    username: flags.username ?? d.auth.sasl.username,
    password: flags.password ?? d.auth.sasl.password,
  };
  return {
    ...kafka,
    ...(tls ? { ssl: Object.keys(ssl).length ? ssl : true } : {}),
    ...(sasl ? { sasl: sasl as KafkaConfig['sasl'] } : {}),
  };
}
