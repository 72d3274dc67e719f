/** What the Dispatcher is built from: its options, the ports it calls through, the clients it creates. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { STSClient } from '@aws-sdk/client-sts';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ErrorBehaviorName, RouteMatch } from '../../contract/dispatcher-config';
import type { RecordCoordinates } from '../errors';
import type {
  DynamoDbIdempotencyStore,
  IdempotencyEntry,
  IdempotencyKeyFunction,
  IdempotencySession,
  ReadOptions,
} from '../idempotency/store';
import type { TargetInvoker } from './invoke';
import type { Logger } from '../logger';
import type { EmfMetrics } from '../metrics';
import type { KafkaRelay } from '../kafka/relay';
import type { SourceRecord } from './source';

/** The part of the Lambda context the dispatcher uses. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

export type ErrorBehavior = ErrorBehaviorName;

/** What the dispatcher needs of the target invoker (TargetInvoker). */
export type InvokerPort = Pick<TargetInvoker, 'functionName' | 'invocationType' | 'payloadFormat' | 'invoke'>;
/** What the dispatcher needs of the idempotency store (DynamoDbRangeStore, DynamoDbIdempotencyStore). */
export interface IdempotencyStorePort {
  /**
   * What is done of the event's records; leaseUntilMs is the invocation's deadline; delivered: every position of the
   * event, in any order (records that did not decode too).
   */
  open(
    entries: readonly IdempotencyEntry[],
    leaseUntilMs: number,
    delivered?: readonly RecordCoordinates[],
    options?: ReadOptions,
  ): Promise<IdempotencySession>;
  /** Strict mode's per-key hold (DynamoDbIdempotencyStore). */
  readonly acquire?: DynamoDbIdempotencyStore['acquire'];
  readonly release?: DynamoDbIdempotencyStore['release'];
}
/** One target of a routing dispatcher (routes.ts chooses among them). */
export interface DispatcherRoute {
  readonly match: RouteMatch;
  readonly invoker: InvokerPort;
  /** Where its target's results go (synchronous invocation). @default - nowhere */
  readonly responseTopic?: string;
}
/** What the dispatcher needs of the relay (KafkaRelay). */
export type RelayPort = Pick<KafkaRelay, 'responseTopic' | 'errorTopic' | 'sendResponses' | 'sendErrors'>;

export interface DispatcherOptions {
  /** The target of records no route takes (the only one without routes). @default - none: such records take the error path */
  readonly invoker?: InvokerPort;
  /**
   * Targets chosen per record, tried in order (the first that takes a record wins); records of a partition are
   * handled in offset order, so each target sees them in order. @default - none
   */
  readonly routes?: readonly DispatcherRoute[];
  /** fail: throw so the ESM retries (done records are skipped then); log: error topic, continue; drop: count, continue. @default 'fail' */
  readonly onError?: ErrorBehavior;
  /** Answer with batchItemFailures instead of throwing. @default false */
  readonly reportBatchItemFailures?: boolean;
  /** Most records per target invocation. @default 100 */
  readonly recordsPerInvocation?: number;
  /** @deprecated use recordsPerInvocation (the same number; recordsPerInvocation wins when both are given). */
  readonly batchSize?: number;
  /** Topic-partitions (Kinesis: shards) in parallel. @default 4 */
  readonly concurrency?: number;
  /** @default 6 MB for RequestResponse, 256 KB for Event */
  readonly maxPayloadBytes?: number;
  /** No invocation starts when less than this remains. @default 10000 */
  readonly timeMarginMs?: number;
  /**
   * The target's timeout: strict keys stay in progress this long past the dispatcher's end, so a run the
   * dispatcher stopped waiting for is never overlapped by a retry. @default 900000 (15 minutes)
   */
  readonly targetTimeoutMs?: number;
  readonly store?: IdempotencyStorePort;
  /** The store for Kinesis events. @default store */
  readonly kinesisStore?: IdempotencyStorePort;
  /** @default 'batched' */
  readonly idempotencyMode?: 'batched' | 'strict';
  /** @default coordinatesKey (topic-partition-offset) */
  readonly keyOf?: IdempotencyKeyFunction;
  readonly relay?: RelayPort;
  /** Decodes keys and values with their schemas before payloads are built. @default - the bytes as they are */
  readonly schemas?: SchemaDecoderPort;
  readonly logger?: Logger;
  readonly metrics?: EmfMetrics;
}

/** RecordDecoder's surface: decodes records in place, returns those that do not decode with their errors. */
export interface SchemaDecoderPort {
  readonly active: boolean;
  decode(records: readonly SourceRecord[]): Promise<Map<SourceRecord, Error>>;
}

/** AWS SDK clients the dispatcher creates from its configuration, injectable for tests. */
export interface DispatcherClients {
  readonly lambda?: LambdaClient;
  readonly dynamodb?: DynamoDBClient;
  readonly secretsManager?: SecretsManagerClient;
  /** For the target role's credentials (config target.assumeRole); ignored when `lambda` is given. */
  readonly sts?: STSClient;
  /** For schemas from the Glue Schema Registry (config schemas.glue). */
  readonly glue?: GlueClient;
}
