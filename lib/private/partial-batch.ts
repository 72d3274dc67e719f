/** What the check needs of the dispatcher a trigger targets: what its binding (DispatcherTriggerBinding) says. */
export interface PartialBatchAnswers {
  /** How messages name the dispatcher. */
  readonly name: string;
  /** Whether it answers with partial batch responses. */
  readonly reportBatchItemFailures: boolean;
}

/**
 * The fix when a trigger would not read the partial batch responses of the dispatcher it targets, or undefined. An
 * event source mapping without ReportBatchItemFailures takes such an answer for a success, so the records the
 * dispatcher reported as failed would be skipped, not retried.
 */
export function unreadPartialBatchResponses(
  dispatcher: PartialBatchAnswers | undefined,
  reportBatchItemFailures: boolean | undefined,
  enableHint: string,
): string | undefined {
  if (dispatcher === undefined || !dispatcher.reportBatchItemFailures || reportBatchItemFailures) return undefined;
  return (
    `the target is the function of ${dispatcher.name}, which answers with partial batch responses; ` +
    `without reportBatchItemFailures the event source mapping takes them for success and skips the failed records. ` +
    `Set reportBatchItemFailures: true here${enableHint}, or turn it off on the dispatcher`
  );
}
