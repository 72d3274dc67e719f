/**
 * Public runtime API of cdk-kafka-lambda, for users who write their own Kafka- or Kinesis-triggered handlers:
 * `import { ... } from 'cdk-kafka-lambda/runtime'`.
 */
export { VERSION } from './version';
export * from './errors';
export * from './decode';
export * from './kinesis';
export * from './source';
export * from './idempotency';
export * from './idempotency-ranges';
export * from './payload';
export * from './invoke';
export * from './routes';
export * from './assume-role';
export * from './relay';
export * from './schemas/record-decoder';
export * from './schemas/registry';
export { compileCodec, DATA_FORMATS } from './schemas/codecs';
export type { Codec, DataFormat, MessageIndexing, SchemaText } from './schemas/codecs';
export { readConfluentFrame, readGlueFrame, schemaRefName } from './schemas/wire';
export type { Framed, SchemaRef } from './schemas/wire';
export * from './logger';
export * from './metrics';
export * from './dispatcher';
export * from './dispatcher-factory';
export * from './in-process';
export { DISPATCHER_CONFIG_ENV, DispatcherConfigError, parseDispatcherConfig } from '../contract/dispatcher-config';
export type { DispatcherConfig } from '../contract/dispatcher-config';
