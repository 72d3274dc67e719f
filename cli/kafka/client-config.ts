import * as fs from 'node:fs';
import type { KafkaConfig } from 'kafkajs';
import { LocalEsmConfigError } from '../errors';

/** The Kafka client's flags the commands share (`local`, `redrive`, `doctor`, `migrate offsets`), as parseArgs takes them. */
export const KAFKA_CLIENT_FLAGS = {
  sasl: { type: 'string' },
  'msk-iam': { type: 'boolean' },
  username: { type: 'string' },
  password: { type: 'string' },
  tls: { type: 'boolean' },
  'ca-file': { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
} as const;

/** Their values. */
export interface KafkaClientFlags {
  readonly tls?: boolean;
  readonly 'ca-file'?: string;
  readonly 'cert-file'?: string;
  readonly 'key-file'?: string;
  readonly sasl?: string;
  readonly username?: string;
  readonly password?: string;
  readonly 'msk-iam'?: boolean;
  /** The cluster's region, for --msk-iam (else AWS_REGION). */
  readonly region?: string;
  /** Where the SASL credentials may come from instead (redrive, doctor): a secret, or the template's. */
  readonly 'secret-arn'?: string;
  readonly template?: string;
}

/** The brokers, TLS and SASL (or MSK IAM) the flags give, as a kafkajs client's configuration. */
export function kafkaClientConfig(values: KafkaClientFlags, brokers: string[], clientId: string): KafkaConfig {
  refuseIncompleteAuth(values);
  const kafka: KafkaConfig = { clientId, brokers };
  if (values.tls || values['ca-file'] || values['cert-file']) {
    kafka.ssl = {
      ...(values['ca-file'] ? { ca: [fs.readFileSync(values['ca-file'], 'utf8')] } : {}),
      ...(values['cert-file']
        ? { cert: fs.readFileSync(values['cert-file'], 'utf8'), key: fs.readFileSync(values['key-file'] ?? '', 'utf8') }
        : {}),
    };
  }
  if (values.sasl) {
    const mechanism = values.sasl as 'scram-sha-256' | 'scram-sha-512' | 'plain';
    kafka.sasl = { mechanism, username: values.username, password: values.password } as KafkaConfig['sasl'];
  }
  return values['msk-iam'] ? mskIam(kafka, values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION) : kafka;
}

/** Auth flags that only work together: given alone they would send an empty password, or be ignored. */
function refuseIncompleteAuth(values: KafkaClientFlags): void {
  if (values.sasl && !['scram-sha-256', 'scram-sha-512', 'plain'].includes(values.sasl))
    throw new LocalEsmConfigError(`--sasl must be scram-sha-256, scram-sha-512 or plain, got "${values.sasl}"`);
  if (values['msk-iam'] && values.sasl) throw new LocalEsmConfigError('give --msk-iam or --sasl, not both');
  const fromSecret = values['secret-arn'] !== undefined || values.template !== undefined;
  if (values.sasl && !fromSecret && (values.username === undefined || values.password === undefined))
    throw new LocalEsmConfigError(`--sasl ${values.sasl} needs --username and --password`);
  if (!values['cert-file'] !== !values['key-file'])
    throw new LocalEsmConfigError('--cert-file and --key-file go together (the client certificate and its key)');
}

/** MSK IAM: a token signed with the AWS SDK's credentials, over TLS (what the mapping's IAM auth uses too). */
function mskIam(kafka: KafkaConfig, region: string | undefined): KafkaConfig {
  if (!region) throw new LocalEsmConfigError("--msk-iam needs the cluster's region: --region or AWS_REGION");
  return {
    ...kafka,
    ssl: kafka.ssl ?? true,
    sasl: {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => {
        const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
        return { value: (await generateAuthToken({ region })).token };
      },
    },
  };
}
