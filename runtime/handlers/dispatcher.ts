/**
 * The dispatcher function: the target of a Kafka or Kinesis event source mapping (the event's shape says
 * which). Thin: reads the configuration written by the KafkaDispatcher construct once per container and
 * delegates to Dispatcher.
 */
import { DISPATCHER_CONFIG_ENV, parseDispatcherConfig } from '../../contract/dispatcher-config';
import { Dispatcher, InvocationContext, isEmptyEvent, DispatcherResponse } from '../dispatcher/dispatcher';
import { dispatcherFromConfig } from '../dispatcher/factory';

// One per container: the relay's Kafka producer and the SDK clients are reused across invocations.
let dispatcher: Dispatcher | undefined;

export async function handler(event: unknown, context: InvocationContext): Promise<DispatcherResponse> {
  if (isEmptyEvent(event)) return { batchItemFailures: [] };
  dispatcher ??= dispatcherFromConfig(parseDispatcherConfig(process.env[DISPATCHER_CONFIG_ENV]));
  return dispatcher.handle(event, context);
}
