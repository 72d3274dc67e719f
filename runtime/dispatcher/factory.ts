import { DispatcherConfig, IdempotencyConfig, RouteConfig, SchemasConfig } from '../../contract/dispatcher-config';
import { Dispatcher, DispatcherClients, DispatcherOptions, IdempotencyStorePort } from './dispatcher';
import { DynamoDbIdempotencyStore, DynamoDbIdempotencyStoreOptions, jsonPointerKey } from '../idempotency/store';
import { assumedRoleCredentials } from '../cross-account';
import { DynamoDbRangeStore } from '../idempotency/ranges';
import { TargetInvoker } from './invoke';
import { JsonLogger, Logger } from '../logger';
import { EmfMetrics } from '../metrics';
import { KafkaRelay } from '../kafka/relay';
import { RecordDecoder } from '../schemas/record-decoder';
import { ConfluentRegistryClient, GlueRegistryClient } from '../schemas/registry';

/**
 * The store for a dispatcher's idempotency: records keyed by their coordinates are kept per range of a partition
 * (DynamoDbRangeStore); a key from the value, or strict mode, per key (DynamoDbIdempotencyStore).
 */
export function idempotencyStore(
  options: DynamoDbIdempotencyStoreOptions,
  use: { readonly strict: boolean; readonly customKey: boolean },
): IdempotencyStorePort {
  return use.strict || use.customKey ? new DynamoDbIdempotencyStore(options) : new DynamoDbRangeStore(options);
}

/** Kafka partitions are handled in offset order always; Kinesis shards only when the config says so. */
function stores(idem: IdempotencyConfig, clients: DispatcherClients): Pick<DispatcherOptions, 'store' | 'kinesisStore'> {
  const options = {
    tableName: idem.tableName,
    ttlSeconds: idem.ttlSeconds,
    maxResultBytes: idem.maxStoredResultBytes,
    client: clients.dynamodb,
  };
  const use = { strict: idem.mode === 'strict', customKey: idem.keyPointer !== undefined };
  const store = idempotencyStore(options, use);
  return {
    store,
    kinesisStore:
      store instanceof DynamoDbRangeStore && idem.kinesisRanges !== true ? new DynamoDbIdempotencyStore(options) : store,
  };
}

function recordDecoder(s: SchemasConfig, clients: DispatcherClients): RecordDecoder {
  return new RecordDecoder({
    key: s.key,
    value: s.value,
    confluent: s.confluent && new ConfluentRegistryClient({ ...s.confluent, secretsClient: clients.secretsManager }),
    glue: s.glue && new GlueRegistryClient({ client: clients.glue, region: s.glue.region }),
  });
}

/**
 * The Dispatcher's options from the configuration the KafkaDispatcher or InProcessDispatcher construct writes: the
 * default target invoked as a Lambda function (none when the configuration names none, or it is in process), the
 * routes' targets, the stores, the relay and the schemas.
 */
export function dispatcherOptionsFromConfig(
  config: DispatcherConfig,
  clients: DispatcherClients = {},
  logger: Logger = new JsonLogger({ service: config.metrics?.service }),
): DispatcherOptions {
  const metrics = new EmfMetrics(
    config.metrics && { namespace: config.metrics.namespace, dimensions: { service: config.metrics.service } },
  );
  const t = config.target;
  const idem = config.idempotency;
  const relay = config.relay;
  const invoker = (target: Pick<RouteConfig, 'functionName' | 'invocationType' | 'payloadFormat' | 'assumeRole'>) =>
    new TargetInvoker({
      functionName: target.functionName,
      invocationType: target.invocationType,
      payloadFormat: target.payloadFormat,
      maxAttempts: t.maxAttempts,
      baseDelayMs: t.baseDelayMs,
      maxDelayMs: t.maxDelayMs,
      logTail: t.includeTargetLogTail,
      // Strict mode never sends a batch again while an attempt the dispatcher lost track of may still run.
      retryUncertain: config.idempotency?.mode !== 'strict',
      client: clients.lambda,
      credentials:
        target.assumeRole === undefined
          ? undefined
          : assumedRoleCredentials({ ...target.assumeRole, client: clients.sts, logger }),
      logger,
      metrics,
    });
  return {
    invoker: t.functionName === undefined ? undefined : invoker({ ...t, functionName: t.functionName }),
    routes: config.routes?.map((r) => ({ match: r.match, invoker: invoker(r), responseTopic: r.responseTopic })),
    onError: config.onError,
    reportBatchItemFailures: config.reportBatchItemFailures,
    recordsPerInvocation: t.recordsPerInvocation,
    concurrency: t.concurrency,
    timeMarginMs: config.timeMarginMs,
    targetTimeoutMs: t.timeoutMs,
    ...(idem === undefined ? {} : stores(idem, clients)),
    idempotencyMode: idem?.mode,
    keyOf: idem?.keyPointer === undefined ? undefined : jsonPointerKey(idem.keyPointer),
    relay: relay === undefined ? undefined : new KafkaRelay({ ...relay, secretsClient: clients.secretsManager, logger }),
    schemas: config.schemas === undefined ? undefined : recordDecoder(config.schemas, clients),
    logger,
    metrics,
  };
}

/** Builds a dispatcher from the configuration the KafkaDispatcher construct writes. */
export function dispatcherFromConfig(
  config: DispatcherConfig,
  clients: DispatcherClients = {},
  logger: Logger = new JsonLogger({ service: config.metrics?.service }),
): Dispatcher {
  return new Dispatcher(dispatcherOptionsFromConfig(config, clients, logger));
}
