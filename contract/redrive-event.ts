/**
 * The field `cdk-kafka-lambda redrive` adds to an event of the mapping's own shape. Pure TypeScript without imports:
 * the runtime bundle and the command both read it.
 *
 * With it, the dispatcher runs again the records whose failure it handled before (the error topic or its log with
 * `onError: LOG`, counted with `DROP`), which its idempotency otherwise keeps as done; records its target ran stay
 * done, so a redrive run twice runs nothing twice. It is for records known to have failed, the error topic's: where
 * a partition's list of ranges outgrew its size and a failure merged with the records around it, the dispatcher cannot
 * tell them apart and runs the record the event names.
 */
export const REDRIVE_EVENT_FIELD = 'cdkKafkaLambdaRedrive';

/**
 * The most records `cdk-kafka-lambda redrive` puts in an event with the marker: the dispatcher keeps a range for each
 * run of adjacent offsets of such an event, so it stays small.
 */
export const REDRIVE_EVENT_MAX_RECORDS = 500;

/** The field's value. */
export interface RedriveEventMarker {
  /** Run again the records whose failure the dispatcher handled. */
  readonly rerunFailed: true;
}

/** Whether the event carries the redrive marker. */
export function isRedriveEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const marker = (event as Record<string, unknown>)[REDRIVE_EVENT_FIELD] as Partial<RedriveEventMarker> | undefined;
  return marker?.rerunFailed === true;
}
