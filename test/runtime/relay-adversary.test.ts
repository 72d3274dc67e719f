/**
 * Adversarial tests of the relay's producer replacement after a failed send, with sends in flight at once (the
 * dispatcher relays several partitions' results concurrently through the container's one relay).
 */
import { KafkaProducerPort, KafkaRelay, OutgoingMessage } from '../../runtime/kafka/relay';

interface FakeProducer extends KafkaProducerPort {
  readonly id: number;
  disconnected: boolean;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settled = (p: Promise<unknown>) =>
  p.then(
    () => 'fulfilled',
    () => 'rejected',
  );
const item = (offset: number) => ({ record: { topic: 'src', partition: 0, offset } as any, result: { ok: offset } });

test('GIVEN two sends in flight on one producer and a third on its replacement WHEN the first two fail one after the other THEN only the producer they failed on is disconnected, and the send on the replacement succeeds', async () => {
  const producers: FakeProducer[] = [];
  // Producer 1: the send of offset 1 fails at 10 ms; any send on a disconnected producer fails (as kafkajs does).
  // Producer 2: its send takes 60 ms and fails if the producer was disconnected meanwhile.
  const relay = new KafkaRelay({
    bootstrapServers: ['b:9092'],
    responseTopic: 'responses',
    producerFactory: () => {
      const p: FakeProducer = {
        id: producers.length + 1,
        disconnected: false,
        async send(_topic: string, messages: readonly OutgoingMessage[]) {
          const offset = JSON.parse(messages[0].key!).offset as number;
          if (p.id === 1) {
            await tick(offset === 1 ? 10 : 30);
            if (offset === 1) throw Object.assign(new Error('NOT_LEADER_FOR_PARTITION'), { name: 'KafkaJSProtocolError' });
            if (p.disconnected) throw Object.assign(new Error('The producer is disconnected'), { name: 'KafkaJSError' });
            return;
          }
          await tick(60);
          if (p.disconnected) throw Object.assign(new Error('The producer is disconnected'), { name: 'KafkaJSError' });
        },
        async disconnect() {
          p.disconnected = true;
        },
      };
      producers.push(p);
      return p;
    },
  });
  // WHEN offsets 1 and 2 go out on producer 1 at once; 1 fails at 10 ms (producer 1 replaced); offset 3 starts at 20 ms
  // on producer 2; offset 2 fails at 30 ms on the disconnected producer 1
  const a = settled(relay.sendResponses([item(1)]));
  const b = settled(relay.sendResponses([item(2)]));
  await tick(20);
  const c = settled(relay.sendResponses([item(3)]));
  const results = await Promise.all([a, b, c]);
  // THEN 1 and 2 failed on producer 1; 3, on producer 2, succeeded: producer 2 was not disconnected by 2's failure
  expect(results).toEqual(['rejected', 'rejected', 'fulfilled']);
  expect(producers.map((p) => [p.id, p.disconnected])).toEqual([
    [1, true],
    [2, false],
  ]);
});
