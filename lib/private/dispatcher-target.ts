/**
 * The mark of an object that implements IDispatcherTarget (../dispatcher-target.ts), as aws-cdk marks its Stacks: a
 * symbol from the global registry, so two copies of the library still recognise each other's dispatchers.
 */
export const DISPATCHER_TARGET_SYMBOL = Symbol.for('cdk-kafka-lambda.IDispatcherTarget');
