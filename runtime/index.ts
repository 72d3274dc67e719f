/**
 * Public runtime API of cdk-kafka-lambda, for users who write their own Kafka-triggered handlers:
 * `import { ... } from 'cdk-kafka-lambda/runtime'`.
 */
export { VERSION } from './version';
export * from './errors';
export * from './decode';
