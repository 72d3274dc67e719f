import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaDispatcher } from '../dispatcher';

/**
 * The fix when a trigger would not read the partial batch responses of the KafkaDispatcher it targets, or
 * undefined. An event source mapping without ReportBatchItemFailures takes such an answer for a success, so
 * the records the dispatcher reported as failed would be skipped, not retried.
 */
export function unreadPartialBatchResponses(target: lambda.IFunction, reportBatchItemFailures: boolean | undefined, enableHint: string): string | undefined {
  const dispatcher = target.node.scope;
  if (!(dispatcher instanceof KafkaDispatcher) || !dispatcher.reportBatchItemFailures || reportBatchItemFailures) return undefined;
  return `the target is the function of KafkaDispatcher ${dispatcher.node.path}, which answers with partial batch responses; `
    + `without reportBatchItemFailures the event source mapping takes them for success and skips the failed records. `
    + `Set reportBatchItemFailures: true here${enableHint}, or turn it off on the dispatcher`;
}
