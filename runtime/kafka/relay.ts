import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DEFAULTS } from '../../contract/dispatcher-config';
import {
  BATCH_OVERHEAD_BYTES,
  ErrorItem,
  errorRecordMessage,
  fitErrorItem,
  KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
  messageBytes,
  minimalErrorItems,
  OutgoingMessage,
  RECORD_OVERHEAD_BYTES,
} from './error-records';
import { RecordCoordinates, RelayError } from '../errors';
import type { Logger } from '../logger';
import { SecretReader } from '../secrets';

export {
  BATCH_OVERHEAD_BYTES,
  cutToJsonBytes,
  errorRecordBudget,
  errorRecordBytes,
  errorRecordMessage,
  fitErrorItem,
  KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
  messageBytes,
  minimalErrorItems,
  RECORD_OVERHEAD_BYTES,
  TruncatedRecord,
} from './error-records';
export type { ErrorItem, OmittedBytes, OutgoingMessage } from './error-records';

/**
 * The seam between the relay and a Kafka client library: another client can replace kafkajs by
 * implementing this interface. send must be durable when it resolves (acks from all in-sync replicas).
 */
export interface KafkaProducerPort {
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * The topic's max.message.bytes as the brokers apply it (DescribeConfigs; with ACLs it needs DESCRIBE_CONFIGS on the
   * topic, with MSK IAM kafka-cluster:DescribeTopicDynamicConfiguration). Optional: without it the relay takes
   * errorTopicMaxMessageBytes or Kafka's default.
   */
  maxMessageBytes?(topic: string): Promise<number>;
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
  /**
   * The error topic's max.message.bytes: every error record is sized to fit it. Give it when the relay may not
   * describe the topic's configuration, or to size error records below the topic's limit.
   * @default - the topic's max.message.bytes read once per container (DescribeConfigs); when that is refused or fails, 1048576 (Kafka's default)
   */
  readonly errorTopicMaxMessageBytes?: number;
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

/** Most bytes of a response topic send (one record batch per partition): under Kafka's default max.message.bytes. */
const MAX_RESPONSE_SEND_BYTES = 512 * 1024;
/** How long the relay waits for the error topic's configuration. */
const DESCRIBE_TIMEOUT_MS = 10_000;
/** After the error topic's configuration could not be read, how long Kafka's default is taken before reading again. */
const DESCRIBE_RETRY_MS = 5 * 60_000;
/** The broker's answers that a record (batch) is over max.message.bytes. */
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

const AUTH_ERROR_NAMES = new Set([
  'KafkaJSSASLAuthenticationError',
  'KafkaJSConnectionError',
  'KafkaJSNonRetriableError',
  'KafkaJSNumberOfRetriesExceeded',
]);

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
  private errorLimit?: { readonly bytes: number; readonly until: number };
  private errorLimitRead?: Promise<number>;

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
    await this.send(
      topic,
      items.map(({ record, result }) => ({
        key: JSON.stringify({ topic: record.topic, partition: record.partition, offset: record.offset }),
        value: JSON.stringify(result === undefined ? null : result),
        headers: {
          'source-topic': record.topic,
          'source-partition': String(record.partition),
          'source-offset': String(record.offset),
        },
      })),
      MAX_RESPONSE_SEND_BYTES,
    );
  }

  /**
   * Error topic records: key {topic, partition, startOffset, endOffset}, value the Confluent connector's error
   * schema with `records` (the failed records as the event carried them) and `outcome` added, each within the error
   * topic's max.message.bytes (errorTopicMaxMessageBytes()): an item that does not fit is split over several error
   * records, its input payload left out, a record too big given by its coordinates, sizes and digests (fitErrorItem).
   * When the broker refuses one as too large all the same (the topic takes less than the relay took), the relay reads
   * the topic's limit again and sends the rest fitted to it, or, when that does not help, each remaining record alone
   * by its coordinates, sizes and digests (minimalErrorItems): a failure reaches the topic whatever its size.
   */
  async sendErrors(items: readonly ErrorItem[]): Promise<void> {
    const topic = this.errorTopic;
    if (topic === undefined || items.length === 0) return;
    await this.sendFitted(topic, items, await this.errorTopicMaxMessageBytes(), true);
  }

  /**
   * The error topic's max.message.bytes that error records are sized for: errorTopicMaxMessageBytes when given, else
   * the topic's own, read once per relay (DescribeConfigs), else Kafka's default (1048576) while the read is refused
   * or fails (it is tried again after 5 minutes).
   */
  async errorTopicMaxMessageBytes(): Promise<number> {
    const given = this.options.errorTopicMaxMessageBytes;
    if (given !== undefined) return given;
    if (this.errorLimit !== undefined && Date.now() < this.errorLimit.until) return this.errorLimit.bytes;
    if (this.errorLimitRead === undefined) {
      const read = this.readErrorTopicLimit();
      this.errorLimitRead = read;
      void read.finally(() => {
        if (this.errorLimitRead === read) this.errorLimitRead = undefined;
      });
    }
    return this.errorLimitRead;
  }

  async disconnect(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    // A producer that never came to be (its settings or secrets failed) has nothing to disconnect.
    if (p !== undefined) await p.then((producer) => producer.disconnect()).catch(() => undefined);
  }

  private async sendFitted(
    topic: string,
    items: readonly ErrorItem[],
    maxMessageBytes: number,
    readAgain: boolean,
  ): Promise<void> {
    const fitted = items
      .flatMap((i) => fitErrorItem(i, maxMessageBytes))
      .map((item) => ({ item, message: errorRecordMessage(item) }));
    const batches = batchesOf(fitted, (f) => f.message, maxMessageBytes);
    for (let b = 0; b < batches.length; b++) {
      try {
        await this.sendChunk(
          topic,
          batches[b].map((f) => f.message),
        );
      } catch (e) {
        if (!refusedAsTooLarge(e)) throw e;
        const rest = batches
          .slice(b)
          .flat()
          .map((f) => f.item);
        const given = this.options.errorTopicMaxMessageBytes;
        this.options.logger?.warn(
          'the broker refused an error record as too large: the error topic takes less than the relay sized them for',
          {
            topic,
            maxMessageBytes,
            errorTopicMaxMessageBytes: given,
            fix: given === undefined ? undefined : "set errorTopicMaxMessageBytes to the error topic's max.message.bytes",
          },
        );
        this.errorLimit = undefined;
        if (readAgain && given === undefined) {
          const again = await this.errorTopicMaxMessageBytes();
          if (again < maxMessageBytes) return this.sendFitted(topic, rest, again, false);
        }
        // Each record alone by its coordinates, sizes and digests: a few hundred bytes.
        for (const item of rest.flatMap(minimalErrorItems)) await this.sendChunk(topic, [errorRecordMessage(item)]);
        return;
      }
    }
  }

  private async readErrorTopicLimit(): Promise<number> {
    const topic = this.errorTopic!;
    let reason: string;
    let retryMs = DESCRIBE_RETRY_MS;
    try {
      const producer = await this.connectedProducer();
      if (producer.maxMessageBytes === undefined) {
        reason = 'the producer cannot describe topics';
        retryMs = Infinity;
      } else {
        const bytes = await withTimeout(producer.maxMessageBytes(topic), DESCRIBE_TIMEOUT_MS, `describing ${topic}`);
        if (Number.isInteger(bytes) && bytes > 0) {
          this.errorLimit = { bytes, until: Infinity };
          this.options.logger?.info("error records are sized for the error topic's max.message.bytes", {
            topic,
            maxMessageBytes: bytes,
          });
          return bytes;
        }
        reason = `max.message.bytes is ${JSON.stringify(bytes)}`;
      }
    } catch (e) {
      reason = (e as Error).message;
    }
    this.errorLimit = { bytes: KAFKA_DEFAULT_MAX_MESSAGE_BYTES, until: Date.now() + retryMs };
    this.options.logger?.warn(
      "the error topic's max.message.bytes could not be read; error records are sized for Kafka's default",
      {
        topic,
        maxMessageBytes: KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
        error: reason,
        fix: "allow the relay to describe the topic's configuration (DESCRIBE_CONFIGS; MSK IAM kafka-cluster:DescribeTopicDynamicConfiguration), or set errorTopicMaxMessageBytes",
      },
    );
    return KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  }

  /**
   * Sends in batches of at most maxBatchBytes (messageBytes and the framing of each): a producer puts one send's
   * messages for a partition into one record batch, and the broker refuses a batch over the topic's max.message.bytes.
   */
  private async send(topic: string, messages: OutgoingMessage[], maxBatchBytes: number): Promise<void> {
    for (const batch of batchesOf(messages, (m) => m, maxBatchBytes)) await this.sendChunk(topic, batch);
  }

  private async sendChunk(topic: string, messages: OutgoingMessage[]): Promise<void> {
    const used = this.connectedProducer();
    try {
      await (await used).send(topic, messages);
    } catch (e) {
      // A failed send may have written some partitions' records while the idempotent producer rolled their sequence
      // numbers back: its next send there would be refused as out of order, or taken for a duplicate and dropped
      // unwritten. The next send goes through a new producer (a new producer id), whatever the error.
      await this.replace(used);
      if (refusedAsTooLarge(e) || !AUTH_ERROR_NAMES.has((e as Error).name))
        throw new RelayError(`relaying ${messages.length} record(s) to ${topic} failed: ${(e as Error).message}`, e);
      // Credentials may have been rotated: read them again once, with a new producer.
      this.options.logger?.warn('relay failed to connect or authenticate; reading the credentials again', {
        topic,
        error: (e as Error).message,
      });
      const again = this.connectedProducer();
      try {
        await (await again).send(topic, messages);
      } catch (e2) {
        await this.replace(again);
        throw new RelayError(
          `relaying ${messages.length} record(s) to ${topic} failed after reading the credentials again: ${(e2 as Error).message}`,
          e2,
        );
      }
    }
  }

  /**
   * Drops the producer a send failed on, when it is still the relay's, and disconnects it. A producer that already
   * replaced it (a concurrent send failed first) is left to the sends in flight on it.
   */
  private async replace(failed: Promise<KafkaProducerPort>): Promise<void> {
    if (this.producer === failed) this.producer = undefined;
    await failed.then((producer) => producer.disconnect()).catch(() => undefined);
  }

  private connectedProducer(): Promise<KafkaProducerPort> {
    if (this.producer === undefined) {
      const p = this.settings().then((s) => this.factory(s, this.options.logger));
      p.catch(() => {
        if (this.producer === p) this.producer = undefined;
      });
      this.producer = p;
    }
    return this.producer;
  }

  /** Resolves the connection settings, reading the secrets (a new producer means a fresh read). */
  async settings(): Promise<ProducerSettings> {
    const o = this.options;
    const auth = o.auth ?? 'none';
    const tls = o.tls ?? auth !== 'none';
    const ca =
      o.rootCaSecretArn === undefined
        ? undefined
        : [this.secrets.pem(await this.secrets.json(o.rootCaSecretArn), 'certificate', o.rootCaSecretArn)];
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
          sasl: {
            mechanism: auth,
            username: this.secrets.field(s, 'username', o.secretArn!),
            password: this.secrets.field(s, 'password', o.secretArn!),
          },
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

/**
 * Messages in sends whose record batch stays within maxMessageBytes: each message's bytes and framing, and the
 * batch's header. A message over it on its own is sent alone (the broker decides).
 */
function batchesOf<T>(items: readonly T[], message: (t: T) => OutgoingMessage, maxMessageBytes: number): T[][] {
  const room = maxMessageBytes - BATCH_OVERHEAD_BYTES;
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = messageBytes(message(item)) + RECORD_OVERHEAD_BYTES;
    if (batch.length > 0 && bytes + size > room) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Whether the broker refused a send as over max.message.bytes (kafkajs wraps its protocol error as a cause). */
function refusedAsTooLarge(e: unknown, depth = 0): boolean {
  if (typeof e !== 'object' || e === null || depth > 6) return false;
  const x = e as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  if (typeof x.type === 'string' && TOO_LARGE.has(x.type)) return true;
  return [x.cause, x.originalError, ...(Array.isArray(x.errors) ? x.errors : [])].some(
    (c) => c !== e && refusedAsTooLarge(c, depth + 1),
  );
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function defaultMskIamTokenProvider(region: string): Promise<{ token: string }> {
  // Loaded on first use: only MSK IAM relays pay for the signer.
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
  return generateAuthToken({ region });
}

/** ProducerFactory on kafkajs: idempotent producer, acks from all in-sync replicas, one request in flight. */
export const kafkajsProducerFactory: ProducerFactory = (settings, logger) => {
  // Loaded on first use so handlers that never relay do not pay for kafkajs at cold start.
  const { ConfigResourceTypes, Kafka, logLevel, Partitioners } = require('kafkajs') as typeof import('kafkajs');
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    ssl: settings.ssl as never,
    sasl: settings.sasl as never,
    connectionTimeout: 5_000,
    authenticationTimeout: 5_000,
    retry: { retries: 3 },
    logLevel: logLevel.ERROR,
    logCreator:
      () =>
      ({ namespace, label, log }) =>
        logger?.[label === 'ERROR' ? 'error' : 'warn']('kafkajs', { namespace, ...log }),
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
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
    async maxMessageBytes(topic) {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const { resources } = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
        });
        const value = resources[0]?.configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue;
        if (value === undefined) throw new Error(`DescribeConfigs gave no max.message.bytes for ${topic}`);
        return Number(value);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
};
