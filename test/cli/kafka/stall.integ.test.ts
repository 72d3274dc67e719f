/**
 * The local Kafka mapping's stall watch against the real broker, with a protocol-aware proxy between the consumer and
 * the broker that holds Fetch responses: the consumer's fetch never returns while its group membership stays alive.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../../../testenv';
import { LocalEventSourceMapping } from '../../../cli/kafka/esm';
import { startLocalMapping, waitFor } from '../support';
import { API, KafkaProxy, startKafkaProxy } from '../kafka-proxy';

jest.setTimeout(90_000);

const TARGETS = path.join(__dirname, '..', '..', 'fixtures', 'targets');
const STALL_SECONDS = 2;

describe('local Kafka mapping: stalled consumer', () => {
  const env = te.loadEnv();
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const admin = kafka.admin();
  const fns: te.RunningLambda[] = [];
  const mappings: LocalEventSourceMapping[] = [];
  const proxies: KafkaProxy[] = [];

  beforeAll(async () => {
    await producer.connect();
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await producer.disconnect();
    await admin.disconnect();
    await Promise.all(fns.map((f) => f.stop()));
  });

  async function fn(handler: string, fnEnv: Record<string, string> = {}): Promise<string> {
    const name = `stall-${handler}-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: TARGETS, handler: `index.${handler}`, env: fnEnv, timeoutSeconds: 30 }));
    return name;
  }
  /** The offsets the target received, one entry per delivery, as the Lambda front saw them. */
  async function delivered(name: string, t: string): Promise<number[]> {
    const events = (await te.listInvocations(name)).map((i) => JSON.parse(i.payload));
    return events.flatMap((e) => (e.records[`${t}-0`] ?? []).map((r: { offset: number }) => r.offset)).sort((a, b) => a - b);
  }
  async function produce(t: string, from: number, n: number): Promise<void> {
    const messages = Array.from({ length: n }, (_, i) => ({ value: JSON.stringify({ n: from + i }) }));
    await producer.send({ topic: t, messages });
  }
  async function mappingBehindProxy(functionName: string, t: string, log: string[], batchSize = 100) {
    const proxy = await startKafkaProxy(env.kafka.bootstrap.plaintext);
    proxies.push(proxy);
    const m = startLocalMapping(mappings, {
      kafka: { ...te.kafkaClientConfig('plaintext'), socketFactory: proxy.socketFactory },
      topics: [t],
      functionName,
      batchSize,
      stallTimeoutSeconds: STALL_SECONDS,
      log: (line) => log.push(line),
    });
    return { proxy, m };
  }
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);

  test('a fetch that never returns while the member stays in its group: detected within the bound, the consumer restarted once, every record delivered once', async () => {
    // GIVEN a mapping behind the proxy that has delivered and committed the first 5 records
    const t = `stall-${randomUUID()}`;
    await te.createTopic(t, 1);
    const name = await fn('echo');
    const log: string[] = [];
    const { proxy, m } = await mappingBehindProxy(name, t, log);
    await produce(t, 0, 5);
    await waitFor('the first 5 records delivered and committed', async () => m.stats.recordsCommitted === 5);
    expect(await delivered(name, t)).toEqual(range(5));

    // WHEN the consumer's fetch responses are held from now on, and 5 more records are written
    expect(proxy.holdFetches()).toBeGreaterThan(0);
    await waitFor('a fetch response held', () => proxy.held() > 0);
    const producedAt = Date.now();
    await produce(t, 5, 5);
    // the member stays in its stable group while its fetch hangs
    const [group] = (await admin.describeGroups([m.groupId])).groups;
    expect({ state: group.state, members: group.members.length }).toEqual({ state: 'Stable', members: 1 });

    // THEN the stall is detected after the bound (not before) and within it plus the watch's polling, and logged
    // with coordinates only
    await waitFor('the stall logged', () => log.some((l) => l.startsWith('consumer stalled')), 20_000);
    const detectedAfter = Date.now() - producedAt;
    if (process.env.STALL_TIMES) process.stderr.write(`stall detected after ${detectedAfter} ms\n`);
    expect(detectedAfter).toBeGreaterThanOrEqual(STALL_SECONDS * 1000);
    expect(detectedAfter).toBeLessThan(STALL_SECONDS * 1000 + 3000);
    const line = log.find((l) => l.startsWith('consumer stalled'))!;
    expect(line).toContain(`${t}-0 at offset 5 (high watermark 10)`);
    expect(line).not.toContain('"n"');

    // AND the new consumer delivers the rest, each record once
    await waitFor('all 10 records delivered and committed', async () => m.stats.recordsCommitted === 10, 30_000);
    expect(await delivered(name, t)).toEqual(range(10));
    expect(m.stats.consumerRestarts).toBe(1);
    // its hung fetch kept the old consumer from disconnecting: its connections were closed under it
    expect(log.filter((l) => l.startsWith('consumer did not disconnect within 3 s'))).toHaveLength(1);
    // the old member left the group once, as the broker's side of the proxy saw it
    expect(proxy.requests.get(API.leaveGroup) ?? 0).toBe(1);

    // AND with nothing behind any more, no further restart comes after another bound
    await produce(t, 10, 2);
    await waitFor('2 more delivered', async () => (await delivered(name, t)).length === 12);
    await new Promise((r) => setTimeout(r, (STALL_SECONDS + 1) * 1000));
    expect(m.stats.consumerRestarts).toBe(1);
    expect(proxy.requests.get(API.leaveGroup) ?? 0).toBe(1);
    expect(await delivered(name, t)).toEqual(range(12));
  });

  test('a batch slower than the bound is not a stall: no restart, every record delivered once', async () => {
    // GIVEN a target that takes twice the bound per call and a mapping of one record per call
    const t = `stall-${randomUUID()}`;
    await te.createTopic(t, 1);
    const name = await fn('slow', { SLOW_MS: String(STALL_SECONDS * 2000) });
    const log: string[] = [];
    const { proxy, m } = await mappingBehindProxy(name, t, log, 1);

    // WHEN 2 records are written: the second waits behind the high watermark while the first is slow
    await produce(t, 0, 2);

    // THEN both are delivered once, with no restart and no group leave
    await waitFor('2 records delivered and committed', async () => m.stats.recordsCommitted === 2, 30_000);
    expect(await delivered(name, t)).toEqual(range(2));
    expect(m.stats.consumerRestarts).toBe(0);
    expect(proxy.requests.get(API.leaveGroup) ?? 0).toBe(0);
    expect(log.filter((l) => l.startsWith('consumer stalled'))).toEqual([]);
  });
});
