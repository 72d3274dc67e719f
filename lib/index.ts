export * from './dispatcher';
export * from './kafka-auth';
export * from './kafka-cluster';
export * from './kafka-destination';
export * from './kafka-trigger';
export * from './kinesis-trigger';
export * from './vpc-endpoints';
export * from './sink-connector';
