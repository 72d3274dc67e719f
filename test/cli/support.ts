import * as te from '../../testenv';
import { LocalEsmOptions, LocalEventSourceMapping } from '../../cli/kafka/esm';

/**
 * Polls until check() is true. A check that throws is polled again: right after a group forms, the broker can
 * answer offset fetches with a transient "not the correct coordinator" until the coordinator is settled.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A local Kafka mapping on the test environment (its plaintext listener, the Lambda front, moto), from TRIM_HORIZON
 * with no batching window and quick retries, started and kept in `started` for the test's afterAll to stop.
 */
export function startLocalMapping(
  started: LocalEventSourceMapping[],
  o: Partial<LocalEsmOptions> & { topics: string[] },
): LocalEventSourceMapping {
  const env = te.loadEnv();
  const m = new LocalEventSourceMapping({
    kafka: te.kafkaClientConfig('plaintext'),
    lambdaEndpoint: env.lambda.endpoint,
    region: env.region,
    awsEndpoint: env.moto.endpoint,
    startingPosition: 'TRIM_HORIZON',
    maxBatchingWindowSeconds: 0,
    retryDelayMs: 50,
    log: () => undefined,
    ...o,
  });
  started.push(m);
  void m.start();
  return m;
}
