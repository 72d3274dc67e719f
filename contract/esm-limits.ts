/**
 * The event source mapping's limits, [min, max], checked by the triggers at synth and by the local emulator at start.
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
 */
export const ESM_LIMITS = {
  batchSize: [1, 10_000],
  maxBatchingWindowSeconds: [0, 300],
  /** Or -1 for infinite. */
  retryAttempts: [0, 10_000],
  maxRecordAgeSeconds: [60, 604_800],
  parallelizationFactor: [1, 10],
  tumblingWindowSeconds: [0, 900],
  /** Kafka provisioned mode (ProvisionedPollerConfig). */
  minimumPollers: [1, 200],
  maximumPollers: [1, 10_000],
} as const;
