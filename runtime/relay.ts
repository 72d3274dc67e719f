import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DEFAULTS } from '../contract/dispatcher-config';
import { InvocationFailureDetails, InvocationOutcome, RecordCoordinates, RelayError } from './errors';
import type { Logger } from './logger';
import { SecretReader } from './secrets';

/** A message for a Kafka topic, as the relay produces it. */
export interface OutgoingMessage {
  readonly key: string;
  readonly value: string;
  readonly headers: Record<string, string>;
}

/**
 * The seam between the relay and a Kafka client library: another client can replace kafkajs by
 * implementing this interface. send must be durable when it resolves (acks from all in-sync replicas).
 */
export interface KafkaProducerPort {
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** Connection settings a producer is built from (credentials already resolved). */
export interface ProducerSettings {
  readonly clientId: string;
  readonly brokers: readonly string[];
  /** false: plaintext; true: TLS with the system's CAs; object: TLS with these settings. */
  readonly ssl: boolean | { readonly ca?: string[]; readonly cert?: string; readonly key?: string; readonly passphrase?: string };
  readonly sasl?:
  | { readonly mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain'; readonly username: string; readonly password: string }
  | { readonly mechanism: 'oauthbearer'; readonly oauthBearerProvider: () => Promise<{ value: string }> };
}

export type ProducerFactory = (settings: ProducerSettings, logger?: Logger) => KafkaProducerPort;

export type RelayAuth = 'none' | 'scram-sha-256' | 'scram-sha-512' | 'plain' | 'mtls' | 'msk-iam';

export interface KafkaRelayOptions {
  readonly bootstrapServers: readonly string[];
  /** @default 'none' */
  readonly auth?: RelayAuth;
  /** Secrets Manager secret: SCRAM {username,password}, or mTLS {certificate,privateKey,privateKeyPassword?} (the event source mapping's format, https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html). */
  readonly secretArn?: string;
  /** Secrets Manager secret {certificate} with the brokers' root CA, for private CAs. */
  readonly rootCaSecretArn?: string;
  /** @default true when auth is not 'none' */
  readonly tls?: boolean;
  readonly responseTopic?: string;
  readonly errorTopic?: string;
  /** @default 'cdk-kafka-lambda-relay' */
  readonly clientId?: string;
  /** Region for MSK IAM tokens. @default process.env.AWS_REGION */
  readonly region?: string;
  readonly secretsClient?: SecretsManagerClient;
  /** @default kafkajsProducerFactory */
  readonly producerFactory?: ProducerFactory;
  /** Produces the MSK IAM token. @default aws-msk-iam-sasl-signer-js generateAuthToken */
  readonly mskIamTokenProvider?: (region: string) => Promise<{ token: string }>;
  readonly logger?: Logger;
}

/** A record's result for the response topic. */
export interface ResponseItem {
  readonly record: RecordCoordinates;
  readonly result: unknown;
}

/**
 * A failure for the error topic: the Confluent connector's error schema, plus the failed records as the event
 * carried them (so their bytes outlive the source topic's retention) and whether the target may have run them.
 */
export interface ErrorItem {
  readonly topic: string;
  /** Kafka: the partition number; Kinesis: the shard id. */
  readonly partition: number | string;
  /** Kafka: an offset; Kinesis: a sequence number (decimal string). */
  readonly startOffset: number | string;
  /** Exclusive: the last record's offset (or sequence number) + 1. */
  readonly endOffset: number | string;
  readonly functionName: string;
  readonly inputPayload?: string;
  readonly details: InvocationFailureDetails;
  /**
   * The records of [startOffset, endOffset) exactly as the event carried them: a Kafka record with its base64
   * key and value, headers, timestamp and timestampType; a Kinesis record with its base64 data and partition key.
   */
  readonly records: readonly unknown[];
  /** failed: the target answered with an error or was never reached; unknown: it may have run the records. @default 'failed' */
  readonly outcome?: InvocationOutcome;
}

/**
 * Kafka's default max.message.bytes is 1 MB: an error record keeps the input payload under this, and the
 * dispatcher splits a failed range into error records whose records stay under MAX_ERROR_RECORDS_CHARS.
 */
const MAX_INPUT_PAYLOAD_CHARS = 400 * 1024;
export const MAX_ERROR_RECORDS_CHARS = 400 * 1024;
/** Most characters of keys and values in one producer send (one record batch per partition). */
const MAX_SEND_CHARS = 512 * 1024;


const AUTH_ERROR_NAMES = new Set(['KafkaJSSASLAuthenticationError', 'KafkaJSConnectionError', 'KafkaJSNonRetriableError', 'KafkaJSNumberOfRetriesExceeded']);

/**
 * Relays results to the response topic and failures to the error topic with one producer per
 * container, reused across invocations. Credentials come from Secrets Manager and are cached; after
 * a failure to connect or authenticate they are read again once and the send is retried, which is
 * how a rotated secret is picked up without a cold start.
 */
export class KafkaRelay {
  public readonly responseTopic?: string;
  public readonly errorTopic?: string;
  private readonly options: KafkaRelayOptions;
  private readonly secrets: SecretReader;
  private readonly factory: ProducerFactory;
  private producer?: Promise<KafkaProducerPort>;

  constructor(options: KafkaRelayOptions) {
    const auth = options.auth ?? 'none';
    if ((auth === 'mtls' || auth.startsWith('scram')) && options.secretArn === undefined) {
      throw new RelayError(`KafkaRelay: auth ${auth} needs secretArn, the Secrets Manager secret with the credentials`);
    }
    this.options = options;
    this.responseTopic = options.responseTopic;
    this.errorTopic = options.errorTopic;
    this.secrets = new SecretReader(options.secretsClient, (m) => new RelayError(m));
    this.factory = options.producerFactory ?? kafkajsProducerFactory;
  }

  /**
   * Response topic records: key {topic, partition, offset}, value the result as JSON, source coordinates as
   * headers. For a Kinesis record: {topic: stream, partition: shard id, offset: sequence number}, all strings.
   * topic: a route's response topic instead of the relay's.
   */
  async sendResponses(items: readonly ResponseItem[], topic = this.responseTopic): Promise<void> {
    if (topic === undefined || items.length === 0) return;
    await this.send(topic, items.map(({ record, result }) => ({
      key: JSON.stringify({ topic: record.topic, partition: record.partition, offset: record.offset }),
      value: JSON.stringify(result === undefined ? null : result),
      headers: { 'source-topic': record.topic, 'source-partition': String(record.partition), 'source-offset': String(record.offset) },
    })));
  }

  /**
   * Error topic records: key {topic, partition, startOffset, endOffset}, value the Confluent connector's error
   * schema with `records` (the failed records as the event carried them) and `outcome` added.
   */
  async sendErrors(items: readonly ErrorItem[]): Promise<void> {
    if (this.errorTopic === undefined || items.length === 0) return;
    await this.send(this.errorTopic, items.map((e) => ({
      key: JSON.stringify({ topic: e.topic, partition: e.partition, startOffset: e.startOffset, endOffset: e.endOffset }),
      value: JSON.stringify({
        functionName: e.functionName,
        inputPayload: e.inputPayload === undefined ? null
          : e.inputPayload.length > MAX_INPUT_PAYLOAD_CHARS ? `${e.inputPayload.slice(0, MAX_INPUT_PAYLOAD_CHARS)}...(truncated, ${e.inputPayload.length} chars)` : e.inputPayload,
        statusCode: e.details.statusCode,
        functionError: e.details.functionError,
        logResult: e.details.logResult ?? null,
        payload: e.details.payload ?? null,
        executedVersion: e.details.executedVersion ?? null,
        outcome: e.outcome ?? 'failed',
        records: e.records,
      }),
      headers: {
        'source-topic': e.topic, 'source-partition': String(e.partition),
        'source-start-offset': String(e.startOffset), 'source-end-offset': String(e.endOffset),
      },
    })));
  }

  async disconnect(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    if (p !== undefined) await (await p).disconnect().catch(() => undefined);
  }

  /**
   * Sends in chunks of at most MAX_SEND_CHARS: a producer puts one send's messages for a partition into one
   * record batch, and the broker refuses a batch over the topic's max.message.bytes (1 MB by default).
   */
  private async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    let chunk: OutgoingMessage[] = [];
    let chars = 0;
    for (const m of messages) {
      const size = m.key.length + m.value.length;
      if (chunk.length > 0 && chars + size > MAX_SEND_CHARS) {
        await this.sendChunk(topic, chunk);
        chunk = [];
        chars = 0;
      }
      chunk.push(m);
      chars += size;
    }
    if (chunk.length > 0) await this.sendChunk(topic, chunk);
  }

  private async sendChunk(topic: string, messages: OutgoingMessage[]): Promise<void> {
    try {
      await (await this.connectedProducer()).send(topic, messages);
    } catch (e) {
      if (!AUTH_ERROR_NAMES.has((e as Error).name)) throw new RelayError(`relaying ${messages.length} record(s) to ${topic} failed: ${(e as Error).message}`, e);
      // Credentials may have been rotated: read them again once, with a new producer.
      this.options.logger?.warn('relay failed to connect or authenticate; reading the credentials again', { topic, error: (e as Error).message });
      await this.disconnect();
      try {
        await (await this.connectedProducer()).send(topic, messages);
      } catch (e2) {
        await this.disconnect();
        throw new RelayError(`relaying ${messages.length} record(s) to ${topic} failed after reading the credentials again: ${(e2 as Error).message}`, e2);
      }
    }
  }

  private connectedProducer(): Promise<KafkaProducerPort> {
    if (this.producer === undefined) {
      const p = this.settings().then((s) => this.factory(s, this.options.logger));
      p.catch(() => { if (this.producer === p) this.producer = undefined; });
      this.producer = p;
    }
    return this.producer;
  }

  /** Resolves the connection settings, reading the secrets (a new producer means a fresh read). */
  async settings(): Promise<ProducerSettings> {
    const o = this.options;
    const auth = o.auth ?? 'none';
    const tls = o.tls ?? auth !== 'none';
    const ca = o.rootCaSecretArn === undefined ? undefined : [this.secrets.pem(await this.secrets.json(o.rootCaSecretArn), 'certificate', o.rootCaSecretArn)];
    const base = { clientId: o.clientId ?? DEFAULTS.relayClientId, brokers: o.bootstrapServers };
    switch (auth) {
      case 'none':
        return { ...base, ssl: tls ? (ca ? { ca } : true) : false };
      case 'scram-sha-256':
      case 'scram-sha-512':
      case 'plain': {
        const s = await this.secrets.json(o.secretArn!);
        return {
          ...base,
          ssl: ca ? { ca } : tls,
          sasl: { mechanism: auth, username: this.secrets.field(s, 'username', o.secretArn!), password: this.secrets.field(s, 'password', o.secretArn!) },
        };
      }
      case 'mtls': {
        const s = await this.secrets.json(o.secretArn!);
        return {
          ...base,
          ssl: {
            ca,
            cert: this.secrets.pem(s, 'certificate', o.secretArn!),
            key: this.secrets.pem(s, 'privateKey', o.secretArn!),
            passphrase: typeof s.privateKeyPassword === 'string' ? s.privateKeyPassword : undefined,
          },
        };
      }
      case 'msk-iam': {
        const region = o.region ?? process.env.AWS_REGION ?? '';
        const provider = o.mskIamTokenProvider ?? defaultMskIamTokenProvider;
        return {
          ...base,
          ssl: ca ? { ca } : true,
          sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: (await provider(region)).token }) },
        };
      }
    }
  }
}

async function defaultMskIamTokenProvider(region: string): Promise<{ token: string }> {
  // Loaded on first use: only MSK IAM relays pay for the signer.
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
  return generateAuthToken({ region });
}

/** ProducerFactory on kafkajs: idempotent producer, acks from all in-sync replicas, one request in flight. */
export const kafkajsProducerFactory: ProducerFactory = (settings, logger) => {
  // Loaded on first use so handlers that never relay do not pay for kafkajs at cold start.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Kafka, logLevel, Partitioners } = require('kafkajs') as typeof import('kafkajs');
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    ssl: settings.ssl as never,
    sasl: settings.sasl as never,
    connectionTimeout: 5_000,
    authenticationTimeout: 5_000,
    retry: { retries: 3 },
    logLevel: logLevel.ERROR,
    logCreator: () => ({ namespace, label, log }) => logger?.[label === 'ERROR' ? 'error' : 'warn']('kafkajs', { namespace, ...log }),
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  let connected: Promise<void> | undefined;
  return {
    async send(topic, messages) {
      connected ??= producer.connect();
      try {
        await connected;
      } catch (e) {
        connected = undefined;
        throw e;
      }
      await producer.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
    },
    async disconnect() {
      await producer.disconnect();
    },
  };
};
