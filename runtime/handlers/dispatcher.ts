/**
 * Dispatcher handler: the event source mapping's target. The runtime issue composes decode,
 * idempotency, invoke and relay here; until then it reports the batch it received.
 */
export async function handler(event: { records?: Record<string, unknown[]> }): Promise<{ batchItemFailures: never[]; records: number }> {
  const records = Object.values(event.records ?? {}).reduce((n, group) => n + group.length, 0);
  return { batchItemFailures: [], records };
}
