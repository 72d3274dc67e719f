/**
 * The settings of a redrive: the flags, over what --template's event source mapping gives, with the auth read from
 * Secrets Manager (--secret-arn, --ca-secret-arn, or the template's literal secret ARNs) and the on-failure queue's URL
 * from SQS. What the template cannot give is reported as a notice line, as `local` reports it.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { localAwsSettings } from '../aws';
import { LocalEsmConfigError } from '../errors';
import { authFromSecrets, SaslMechanism } from '../kafka/secrets';
import { parseRedriveArgs, readRedriveFlags, RedriveDefaults, RedriveOptions } from './options';
import { redriveTemplate, RedriveTemplate } from './template';

export interface RedriveSettingsClients {
  readonly secretsManager?: SecretsManagerClient;
  readonly sqs?: SQSClient;
}

type Flags = ReturnType<typeof readRedriveFlags>;

export async function redriveSettings(
  argv: string[],
  notice: (line: string) => void,
  clients: RedriveSettingsClients = {},
): Promise<RedriveOptions> {
  const flags = readRedriveFlags(argv);
  if (flags.mapping && !flags.template)
    throw new LocalEsmConfigError('--mapping chooses a mapping of --template; give --template too');
  const t = flags.template ? redriveTemplate(flags.template, flags.mapping) : undefined;
  const given = (flag: string) => (flags as Record<string, unknown>)[flag.slice(2)] !== undefined;
  for (const u of t?.unresolved ?? []) if (!u.flags.some(given)) notice(`template: ${u.text}`);
  const aws = { endpoint: flags['aws-endpoint'], region: flags.region };
  const fromSecrets = await authFromSecrets({ ...secretsOf(flags, t), ...aws }, clients.secretsManager);
  // --username/--password without --sasl authenticate with the template's mechanism.
  const mechanism = !flags.sasl && !fromSecrets.sasl && flags.username ? t?.mechanism : undefined;
  const auth = mechanism
    ? { ...fromSecrets, sasl: { mechanism, username: flags.username!, password: flags.password ?? '' } }
    : fromSecrets;
  const source =
    flags['from-sqs'] || flags['from-s3'] || flags['from-error-topic'] ? {} : await sourceOf(t, aws, notice, clients.sqs);
  const missing = (flag: string) => t?.unresolved.find((u) => u.flags.includes(flag))?.text;
  const defaults: RedriveDefaults = {
    ...source,
    bootstrapServers: t?.bootstrapServers,
    eventSourceArn: t?.eventSourceArn,
    functionName: t?.functionName,
    tls: t?.tls,
    auth,
    missing: {
      source: missing('--from-sqs'),
      bootstrapServers: missing('--bootstrap-servers'),
      functionName: missing('--function-name'),
    },
  };
  return parseRedriveArgs(argv, defaults);
}

/**
 * The secrets to read: the flags', else the template's literal ones. The template's auth secret is not read when the
 * flags give that auth themselves (--username, --cert-file), nor its CA's when --ca-file is given.
 */
function secretsOf(flags: Flags, t: RedriveTemplate | undefined) {
  const flagsGiveAuth = t?.mtls ? !!flags['cert-file'] : !!flags.username;
  const secretArn = flags['secret-arn'] ?? (flagsGiveAuth ? undefined : t?.secretArn);
  const caSecretArn = flags['ca-secret-arn'] ?? (flags['ca-file'] ? undefined : t?.caSecretArn);
  return {
    secretArn,
    secretFlag: flags['secret-arn']
      ? '--secret-arn'
      : `--secret-arn (the template's ${t?.mtls ? 'CLIENT_CERTIFICATE_TLS_AUTH' : 'SASL'} secret)`,
    mechanism: (flags.sasl as SaslMechanism | undefined) ?? t?.mechanism,
    mtls: flags.sasl ? false : t?.mtls,
    caSecretArn,
    caSecretFlag: flags['ca-secret-arn'] ? '--ca-secret-arn' : "--ca-secret-arn (the template's SERVER_ROOT_CA_CERTIFICATE)",
  };
}

/** The template's on-failure destination as the source: an SQS queue (its URL from SQS) or an S3 bucket. */
async function sourceOf(
  t: RedriveTemplate | undefined,
  aws: { endpoint?: string; region?: string },
  notice: (line: string) => void,
  client: SQSClient | undefined,
): Promise<Pick<RedriveDefaults, 'fromSqs' | 'fromS3'>> {
  const arn = t?.onFailure;
  if (!arn) return {};
  const sqsArn = /^arn:[^:]+:sqs:([^:]+):(\d+):(.+)$/.exec(arn);
  if (sqsArn) return { fromSqs: await queueUrl(sqsArn[3], sqsArn[2], { ...aws, region: aws.region ?? sqsArn[1] }, client) };
  const bucket = /^arn:[^:]+:s3:::([^/]+)$/.exec(arn);
  if (bucket) return { fromS3: `s3://${bucket[1]}` };
  notice(
    `template: the on-failure destination ${arn} is not a source redrive reads; give --from-sqs (a queue the topic delivers to) or --from-error-topic`,
  );
  return {};
}

async function queueUrl(name: string, account: string, aws: { endpoint?: string; region?: string }, client?: SQSClient) {
  const sqs = require('@aws-sdk/client-sqs') as typeof import('@aws-sdk/client-sqs');
  const c = client ?? new sqs.SQSClient(localAwsSettings(aws.endpoint, aws.region));
  try {
    const out = await c.send(new sqs.GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
    return out.QueueUrl!;
  } catch (e) {
    const err = e as Error;
    throw new LocalEsmConfigError(
      `the template's on-failure queue ${name} (account ${account}) has no URL from SQS (${err.name}: ${err.message}); give --from-sqs QUEUE_URL, or check --aws-endpoint and --region`,
    );
  } finally {
    if (!client) c.destroy();
  }
}
