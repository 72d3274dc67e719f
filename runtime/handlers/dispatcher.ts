/**
 * The dispatcher function: the target of a Kafka or Kinesis event source mapping (the event's shape says which). Thin:
 * the pipeline reads the configuration the KafkaDispatcher construct writes, once per container, and invokes the
 * target function it names.
 */
import { dispatcherHandler } from '../dispatcher/handler';

export const handler = dispatcherHandler();
