import { DispatcherConfig } from '../contract/dispatcher-config';
import { Dispatcher, DispatcherClients } from './dispatcher';
import { DynamoDbIdempotencyStore, jsonPointerKey } from './idempotency';
import { DynamoDbRangeStore } from './idempotency-ranges';
import { TargetInvoker } from './invoke';
import { JsonLogger, Logger } from './logger';
import { EmfMetrics } from './metrics';
import { KafkaRelay } from './relay';

/** Builds a dispatcher from the configuration the KafkaDispatcher construct writes. */
export function dispatcherFromConfig(config: DispatcherConfig, clients: DispatcherClients = {}, logger: Logger = new JsonLogger({ service: config.metrics?.service })): Dispatcher {
  const metrics = new EmfMetrics(config.metrics && { namespace: config.metrics.namespace, dimensions: { service: config.metrics.service } });
  const t = config.target;
  const idem = config.idempotency;
  const relay = config.relay;
  return new Dispatcher({
    invoker: new TargetInvoker({
      functionName: t.functionName,
      invocationType: t.invocationType,
      payloadFormat: t.payloadFormat,
      maxAttempts: t.maxAttempts,
      baseDelayMs: t.baseDelayMs,
      maxDelayMs: t.maxDelayMs,
      logTail: t.logTail,
      // Strict mode never sends a batch again while an attempt the dispatcher lost track of may still run.
      retryUncertain: config.idempotency?.mode !== 'strict',
      client: clients.lambda,
      logger,
      metrics,
    }),
    onError: config.onError,
    reportBatchItemFailures: config.reportBatchItemFailures,
    batchSize: t.batchSize,
    concurrency: t.concurrency,
    timeMarginMs: config.timeMarginMs,
    targetTimeoutMs: t.timeoutMs,
    // Records keyed by their coordinates are kept per range; a key from the value, or strict mode, per key.
    store: idem === undefined ? undefined : new (idem.mode === 'batched' && idem.keyPointer === undefined ? DynamoDbRangeStore : DynamoDbIdempotencyStore)({
      tableName: idem.tableName,
      ttlSeconds: idem.ttlSeconds,
      maxResultBytes: idem.maxResultBytes,
      client: clients.dynamodb,
    }),
    idempotencyMode: idem?.mode,
    keyOf: idem?.keyPointer === undefined ? undefined : jsonPointerKey(idem.keyPointer),
    relay: relay === undefined ? undefined : new KafkaRelay({ ...relay, secretsClient: clients.secretsManager, logger }),
    logger,
    metrics,
  });
}
