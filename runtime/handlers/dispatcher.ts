/**
 * The dispatcher function: the Kafka event source mapping's target. Thin: reads the configuration
 * written by the KafkaDispatcher construct once per container and delegates to Dispatcher.
 */
import { DISPATCHER_CONFIG_ENV, parseDispatcherConfig } from '../../lib/private/dispatcher-config';
import { Dispatcher, InvocationContext, isEmptyEvent, KafkaBatchResponse } from '../dispatcher';

// One per container: the relay's Kafka producer and the SDK clients are reused across invocations.
let dispatcher: Dispatcher | undefined;

export async function handler(event: unknown, context: InvocationContext): Promise<KafkaBatchResponse> {
  if (isEmptyEvent(event)) return { batchItemFailures: [] };
  dispatcher ??= Dispatcher.fromConfig(parseDispatcherConfig(process.env[DISPATCHER_CONFIG_ENV]));
  return dispatcher.handle(event, context);
}
