/**
 * Schema registries the dispatcher reads schemas from by id:
 * - a Confluent-compatible REST API (`GET /schemas/ids/{id}`, references by subject and version), without auth,
 *   with HTTP basic auth or with mTLS, credentials from Secrets Manager in the mapping's formats;
 * - the AWS Glue Schema Registry (`GetSchemaVersion` by schema version id).
 * Schemas by id never change, so a fetched schema is kept for the life of the execution environment.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { glueSdk } from '../sdk';
import { SecretReader } from '../secrets';
import { DATA_FORMATS, DataFormat, SchemaText } from './codecs';

/**
 * A registry could not be asked: not the record's fault, retried. `notFound` marks the record's fault; `refused`, an
 * answer refusing the credentials (HTTP 401 or 403) or, with mTLS, a connection ended without an answer (how a refused
 * client certificate shows: TLS 1.3 ends the connection after the handshake; a timeout is not one).
 */
export class RegistryError extends Error {
  constructor(
    message: string,
    public readonly notFound = false,
    public readonly refused = false,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface RegistryClient {
  fetch(id: number | string): Promise<SchemaText>;
}

export type ConfluentRegistryAuth = 'none' | 'basic' | 'mtls';

export interface ConfluentRegistryOptions {
  /** Base URL of the Confluent REST API, e.g. https://registry.example.com or http://host:8080/apis/ccompat/v7. */
  readonly url: string;
  /** @default 'none' */
  readonly auth?: ConfluentRegistryAuth;
  /** basic: {username, password}; mtls: {certificate, privateKey, privateKeyPassword?}. */
  readonly secretArn?: string;
  /** {certificate}: the CA the registry's TLS certificate is checked against. */
  readonly rootCaSecretArn?: string;
  readonly secretsClient?: SecretsManagerClient;
  /** @default 10000 */
  readonly timeoutMs?: number;
}

interface ConfluentSchemaResponse {
  readonly schema?: unknown;
  readonly schemaType?: unknown;
  readonly references?: readonly { name: string; subject: string; version: number }[];
}

/** At most this many levels of references are followed (a cycle would otherwise never end). */
const MAX_REFERENCE_DEPTH = 10;

export class ConfluentRegistryClient implements RegistryClient {
  private readonly base: URL;
  private request?: Promise<{ headers: Record<string, string>; agent: http.Agent }>;
  private readonly secrets: SecretReader;

  constructor(private readonly options: ConfluentRegistryOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.secrets = new SecretReader(options.secretsClient, (m) => new RegistryError(m));
  }

  async fetch(id: number | string): Promise<SchemaText> {
    return this.resolve(await this.get(`schemas/ids/${encodeURIComponent(String(id))}`), 0);
  }

  private async resolve(r: ConfluentSchemaResponse, depth: number): Promise<SchemaText> {
    if (typeof r.schema !== 'string') throw new RegistryError('the registry answered without a schema');
    const type = r.schemaType ?? 'AVRO';
    if (!DATA_FORMATS.includes(type as DataFormat))
      throw new RegistryError(`schema type ${JSON.stringify(type)} is not AVRO, PROTOBUF or JSON`, true);
    if (depth > MAX_REFERENCE_DEPTH) throw new RegistryError(`schema references nest deeper than ${MAX_REFERENCE_DEPTH}`, true);
    const references = await Promise.all(
      (r.references ?? []).map(async (ref) => ({
        name: ref.name,
        schema: await this.resolve(
          await this.get(`subjects/${encodeURIComponent(ref.subject)}/versions/${encodeURIComponent(String(ref.version))}`),
          depth + 1,
        ),
      })),
    );
    return { format: type as DataFormat, schema: r.schema, references };
  }

  /**
   * Credentials may have been rotated since they were read: a refusal reads them again, once, and asks again; a
   * refusal after that is the caller's to retry.
   */
  private async get(path: string, fresh = false): Promise<ConfluentSchemaResponse> {
    const connection = (this.request ??= this.connection().catch((e) => {
      this.request = undefined;
      throw e;
    }));
    try {
      return await this.send(path, await connection);
    } catch (e) {
      if (fresh || !(e instanceof RegistryError && e.refused) || (this.options.auth !== 'basic' && this.options.auth !== 'mtls'))
        throw e;
      if (this.request === connection) this.request = undefined;
      return this.get(path, true);
    }
  }

  private send(
    path: string,
    { headers, agent }: { headers: Record<string, string>; agent: http.Agent },
  ): Promise<ConfluentSchemaResponse> {
    const url = new URL(path, this.base);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.get(
        url,
        {
          headers: { accept: 'application/vnd.schemaregistry.v1+json, application/json', ...headers },
          agent,
          timeout: this.options.timeoutMs ?? 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(new RegistryError(`reading the registry's answer failed: ${e.message}`)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (status === 200) {
              try {
                resolve(JSON.parse(text));
              } catch {
                reject(new RegistryError(`${url.pathname}: the registry's answer is not JSON`));
              }
              return;
            }
            // 404 is the record naming a schema that does not exist; anything else (auth, throttling, server errors) is retried.
            reject(
              new RegistryError(
                `${url.pathname}: HTTP ${status}${errorCode(text)}`,
                status === 404,
                status === 401 || status === 403,
              ),
            );
          });
        },
      );
      const timeout = new Error(`no answer within ${this.options.timeoutMs ?? 10_000} ms`);
      req.on('timeout', () => req.destroy(timeout));
      req.on('error', (e) =>
        reject(new RegistryError(`${url.host}: ${e.message}`, false, this.options.auth === 'mtls' && e !== timeout)),
      );
    });
  }

  private async connection(): Promise<{ headers: Record<string, string>; agent: http.Agent }> {
    const o = this.options;
    const ca =
      o.rootCaSecretArn === undefined
        ? undefined
        : this.secrets.pem(await this.secrets.json(o.rootCaSecretArn), 'certificate', o.rootCaSecretArn);
    const secret = o.auth === 'basic' || o.auth === 'mtls' ? await this.secrets.json(o.secretArn!) : undefined;
    const headers: Record<string, string> = {};
    const tls: https.AgentOptions = { keepAlive: true, ca };
    if (o.auth === 'basic') {
      const token = Buffer.from(
        `${this.secrets.field(secret!, 'username', o.secretArn!)}:${this.secrets.field(secret!, 'password', o.secretArn!)}`,
      ).toString('base64');
      headers.authorization = `Basic ${token}`;
    } else if (o.auth === 'mtls') {
      tls.cert = this.secrets.pem(secret!, 'certificate', o.secretArn!);
      tls.key = this.secrets.pem(secret!, 'privateKey', o.secretArn!);
      tls.passphrase = typeof secret!.privateKeyPassword === 'string' ? secret!.privateKeyPassword : undefined;
    }
    return { headers, agent: this.base.protocol === 'https:' ? new https.Agent(tls) : new http.Agent({ keepAlive: true }) };
  }
}

/** The registry's error_code, when its answer has one (never the message: it may quote the request). */
function errorCode(text: string): string {
  try {
    const code = (JSON.parse(text) as { error_code?: unknown }).error_code;
    return typeof code === 'number' ? ` (error_code ${code})` : '';
  } catch {
    return '';
  }
}

export interface GlueRegistryOptions {
  readonly client?: GlueClient;
  /** @default - the function's region */
  readonly region?: string;
}

export class GlueRegistryClient implements RegistryClient {
  private client?: GlueClient;
  constructor(private readonly options: GlueRegistryOptions = {}) {
    this.client = options.client;
  }

  async fetch(id: number | string): Promise<SchemaText> {
    const glue = glueSdk();
    this.client ??= new glue.GlueClient({ region: this.options.region });
    let out;
    try {
      out = await this.client.send(new glue.GetSchemaVersionCommand({ SchemaVersionId: String(id) }));
    } catch (e) {
      const name = (e as Error).name;
      throw new RegistryError(
        `GetSchemaVersion ${id}: ${name}`,
        name === 'EntityNotFoundException' || name === 'InvalidInputException',
      );
    }
    if (out.SchemaDefinition === undefined || !DATA_FORMATS.includes(out.DataFormat as DataFormat)) {
      throw new RegistryError(
        `GetSchemaVersion ${id}: no schema definition of a known data format (${String(out.DataFormat)})`,
        true,
      );
    }
    return { format: out.DataFormat as DataFormat, schema: out.SchemaDefinition };
  }
}
