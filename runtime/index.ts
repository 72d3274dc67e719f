/**
 * Public runtime API of cdk-kafka-lambda, for users who write their own Kafka- or Kinesis-triggered handlers:
 * `import { ... } from 'cdk-kafka-lambda/runtime'`.
 */
export { VERSION } from './version';
export * from './errors';
export * from './kafka/decode';
export * from './kinesis/decode';
export * from './dispatcher/source';
export * from './idempotency/store';
export * from './idempotency/ranges';
export * from './dispatcher/payload';
export * from './dispatcher/invoke';
export * from './dispatcher/routes';
export * from './cross-account';
export * from './kafka/relay';
export * from './schemas/record-decoder';
export * from './schemas/registry';
export { compileCodec, DATA_FORMATS } from './schemas/codecs';
export type { Codec, DataFormat, MessageIndexing, SchemaText } from './schemas/codecs';
export { readConfluentFrame, readGlueFrame, schemaRefName } from './schemas/wire';
export type { Framed, SchemaRef } from './schemas/wire';
export * from './logger';
export * from './metrics';
export * from './dispatcher/dispatcher';
export * from './dispatcher/factory';
export * from './dispatcher/in-process';
export * from './dispatcher/handler';
export { DISPATCHER_CONFIG_ENV, DispatcherConfigError, parseDispatcherConfig } from '../contract/dispatcher-config';
export type { DispatcherConfig } from '../contract/dispatcher-config';
export { isRedriveEvent, REDRIVE_EVENT_FIELD } from '../contract/redrive-event';
export type { RedriveEventMarker } from '../contract/redrive-event';
