/**
 * The mapping's Kafka auth from Secrets Manager, in the event source mapping's formats
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html), read with the runtime's SecretReader:
 * SASL/SCRAM and BASIC_AUTH {username, password}, mTLS {certificate, privateKey, privateKeyPassword?}, the root CA
 * {certificate}. Errors name the secret's ARN and the fix, never a value.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerSdk } from '../../runtime/sdk';
import { SecretReader } from '../../runtime/secrets';
import { localAwsSettings } from '../aws';
import { LocalEsmConfigError } from '../errors';

export type SaslMechanism = 'scram-sha-256' | 'scram-sha-512' | 'plain';

/** What a secret gives the Kafka client: SASL credentials, or TLS material. */
export interface SecretAuth {
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
  readonly ssl?: { readonly ca?: string[]; readonly cert?: string; readonly key?: string; readonly passphrase?: string };
}

export interface SecretAuthRequest {
  /** The mapping's auth secret (SASL or mTLS), and the flag that gives it, for messages. */
  readonly secretArn?: string;
  readonly secretFlag?: string;
  /** The SASL mechanism, when the secret is SASL's (--sasl, or the template's SourceAccessConfigurations type). */
  readonly mechanism?: SaslMechanism;
  /** The secret is the client certificate's (CLIENT_CERTIFICATE_TLS_AUTH). */
  readonly mtls?: boolean;
  /** The root CA's secret (SERVER_ROOT_CA_CERTIFICATE). */
  readonly caSecretArn?: string;
  readonly caSecretFlag?: string;
  /** Secrets Manager: --aws-endpoint (else the SDK's), --region (else the secret ARN's region). */
  readonly endpoint?: string;
  readonly region?: string;
}

const FORMATS = 'https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html';
const SASL_FORMAT = `a SASL secret is {"username": "…", "password": "…"} (${FORMATS})`;
const MTLS_FORMAT = `an mTLS secret is {"certificate": "<PEM chain>", "privateKey": "<PEM>", "privateKeyPassword"?: "…"} (${FORMATS})`;
const CA_FORMAT = `a root CA secret is {"certificate": "<PEM>"} (${FORMATS})`;

/** Reads the secrets the request names; nothing when it names none. */
export async function authFromSecrets(r: SecretAuthRequest, client?: SecretsManagerClient): Promise<SecretAuth> {
  const arns = [r.secretArn, r.caSecretArn].filter((a): a is string => !!a);
  if (arns.length === 0) return {};
  const sm =
    client ?? new (secretsManagerSdk().SecretsManagerClient)(localAwsSettings(r.endpoint, r.region ?? regionOf(arns[0])));
  try {
    const ca = r.caSecretArn ? await caOf(sm, r.caSecretArn, r.caSecretFlag ?? '--ca-secret-arn') : undefined;
    const auth = r.secretArn ? await authOf(sm, r, r.secretArn, r.secretFlag ?? '--secret-arn') : {};
    return ca ? { ...auth, ssl: { ...auth.ssl, ca } } : auth;
  } finally {
    if (!client) sm.destroy();
  }
}

const regionOf = (arn: string) => /^arn:[^:]+:secretsmanager:([^:]+):/.exec(arn)?.[1];

/** A reader whose errors say what the secret should hold. */
const reader = (sm: SecretsManagerClient, format: string) =>
  new SecretReader(sm, (message) => new LocalEsmConfigError(`${message}; ${format}`));

/** The secret as JSON; a secret that cannot be read is named with the flag that gives it. */
async function readJson(secrets: SecretReader, arn: string, flag: string): Promise<Record<string, unknown>> {
  try {
    return await secrets.json(arn);
  } catch (e) {
    if (e instanceof LocalEsmConfigError) throw e;
    const err = e as Error;
    const fix =
      err.name === 'ResourceNotFoundException'
        ? `give the ARN of an existing secret with ${flag}`
        : `check ${flag}, the credentials and the Secrets Manager endpoint (--aws-endpoint, --region)`;
    throw new LocalEsmConfigError(`secret ${arn} cannot be read (${err.name}: ${err.message}); ${fix}`);
  }
}

async function caOf(sm: SecretsManagerClient, arn: string, flag: string): Promise<string[]> {
  const secrets = reader(sm, CA_FORMAT);
  return [secrets.pem(await readJson(secrets, arn, flag), 'certificate', arn)];
}

/** SASL credentials or a client certificate, as the request or, failing that, the secret's fields say. */
async function authOf(sm: SecretsManagerClient, r: SecretAuthRequest, arn: string, flag: string): Promise<SecretAuth> {
  const expected = r.mtls ? MTLS_FORMAT : r.mechanism ? SASL_FORMAT : `${SASL_FORMAT}, or ${MTLS_FORMAT}`;
  const any = await readJson(reader(sm, expected), arn, flag);
  const mtls = r.mtls ?? (r.mechanism === undefined && 'certificate' in any && 'privateKey' in any);
  if (mtls) {
    const secrets = reader(sm, MTLS_FORMAT);
    const passphrase = any.privateKeyPassword;
    if (passphrase !== undefined && typeof passphrase !== 'string')
      throw new LocalEsmConfigError(`secret ${arn}: "privateKeyPassword" is not a string; ${MTLS_FORMAT}`);
    return {
      ssl: { cert: secrets.pem(any, 'certificate', arn), key: secrets.pem(any, 'privateKey', arn), passphrase },
    };
  }
  const secrets = reader(sm, expected);
  const username = secrets.field(any, 'username', arn);
  const password = secrets.field(any, 'password', arn);
  if (!r.mechanism)
    throw new LocalEsmConfigError(
      `secret ${arn} holds SASL credentials: give the mechanism with --sasl scram-sha-512|scram-sha-256|plain`,
    );
  return { sasl: { mechanism: r.mechanism, username, password } };
}
