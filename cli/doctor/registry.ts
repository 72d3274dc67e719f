/**
 * Step 7 of the doctor: the schema registry answers GET /subjects with the mapping's access secrets (Secrets Manager:
 * BASIC_AUTH {username, password}, CLIENT_CERTIFICATE_TLS_AUTH {certificate, privateKey, privateKeyPassword?}, SERVER_ROOT_CA_CERTIFICATE
 * {certificate}, as https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html gives them).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { localAwsSettings } from '../aws';
import { registryKind, SchemaRegistrySettings } from '../kafka/schemas-config';
import { CheckResult } from './result';

/** A secret's JSON text by its ARN. */
export type SecretReader = (arn: string) => Promise<Record<string, string>>;

export function secretsManagerReader(endpoint?: string, region?: string): SecretReader {
  return async (arn) => {
    const { SecretsManagerClient, GetSecretValueCommand } =
      require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
    const client = new SecretsManagerClient(localAwsSettings(endpoint, region ?? arn.split(':')[3]));
    try {
      const r = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      return JSON.parse(r.SecretString ?? '{}');
    } finally {
      client.destroy();
    }
  };
}

export async function checkRegistry(
  s: SchemaRegistrySettings,
  readSecret: SecretReader,
  timeoutMs: number,
): Promise<CheckResult> {
  const base = { step: 'schema-registry' as const, subject: s.uri };
  if (registryKind(s.uri) === 'glue')
    return {
      ...base,
      status: 'unchecked',
      detail: 'a Glue registry is read with the AWS credentials of the function; doctor checks Confluent-compatible registries',
    };
  const access = s.access ?? {};
  const secrets: Record<string, Record<string, string>> = {};
  for (const [type, arn] of Object.entries(access)) {
    try {
      secrets[type] = await readSecret(arn!);
    } catch (e) {
      return {
        ...base,
        status: 'failed',
        detail: `reading the ${type} secret ${arn} failed: ${(e as Error).name}`,
        fix: 'give credentials that may read it (secretsmanager:GetSecretValue), and --region or --aws-endpoint',
      };
    }
  }
  const basic = secrets.BASIC_AUTH;
  const mtls = secrets.CLIENT_CERTIFICATE_TLS_AUTH;
  const how = basic ? `basic auth as ${basic.username}` : mtls ? 'a client certificate' : 'no auth';
  const r = await getSubjects(s.uri, {
    auth: basic ? `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}` : undefined,
    ca: secrets.SERVER_ROOT_CA_CERTIFICATE?.certificate,
    cert: mtls?.certificate,
    key: mtls?.privateKey,
    passphrase: mtls?.privateKeyPassword,
    timeoutMs,
  });
  if ('error' in r)
    return {
      ...base,
      status: 'failed',
      detail: `GET /subjects with ${how}: ${r.error}`,
      fix: 'check the URL and that the registry is reachable from the mapping',
    };
  if (r.status === 200) return { ...base, status: 'passed', detail: `GET /subjects with ${how}: 200, ${r.subjects} subjects` };
  const refused = r.status === 401 || r.status === 403;
  return {
    ...base,
    status: 'failed',
    detail: `GET /subjects with ${how}: HTTP ${r.status}${refused ? ', the registry refused the credentials' : ''}`,
    fix: refused
      ? 'check the access secret (BASIC_AUTH username and password, or CLIENT_CERTIFICATE_TLS_AUTH) the mapping is given'
      : "check the URL: it must be the registry's REST API base",
  };
}

interface GetOptions {
  readonly auth?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly passphrase?: string;
  readonly timeoutMs: number;
}

function getSubjects(uri: string, o: GetOptions): Promise<{ status: number; subjects?: number } | { error: string }> {
  const url = new URL('subjects', uri.endsWith('/') ? uri : `${uri}/`);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = transport.get(
      url,
      {
        headers: {
          accept: 'application/vnd.schemaregistry.v1+json, application/json',
          ...(o.auth ? { authorization: o.auth } : {}),
        },
        timeout: o.timeoutMs,
        ...(url.protocol === 'https:' ? { ca: o.ca, cert: o.cert, key: o.key, passphrase: o.passphrase } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => resolve({ error: e.message }));
        res.on('end', () => {
          let subjects: number | undefined;
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            subjects = Array.isArray(body) ? body.length : undefined;
          } catch {
            subjects = undefined;
          }
          resolve({ status: res.statusCode ?? 0, subjects });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${o.timeoutMs / 1000}s`)));
    req.on('error', (e) => resolve({ error: e.message }));
  });
}
