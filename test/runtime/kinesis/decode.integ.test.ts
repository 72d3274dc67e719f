/**
 * decodeKinesisEvent on records written to and read back from a real Kinesis API (moto server), shaped into
 * the aws:kinesis event the way the event source mapping builds it.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeKinesisEvent } from '../../../runtime';
import * as te from '../../../testenv';
import { kinesisEventsByShard } from '../support';

jest.setTimeout(120_000);

describe('Kinesis records from moto, decoded', () => {
  const kinesis = new KinesisClient({
    ...te.awsClientConfig('kinesis'),
    // The client defaults to HTTP/2 (for SubscribeToShard); moto answers HTTP/1.1.
    requestHandler: new NodeHttpHandler(),
  });
  const stream = `clicks-${randomUUID().slice(0, 8)}`;
  afterAll(() => kinesis.destroy());

  test('GIVEN records put on a 2-shard stream WHEN read per shard and decoded THEN stream, shard, exact sequence numbers, keys, data, arrival times and per-shard order survive', async () => {
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
    const { StreamDescriptionSummary: summary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    const put: Array<{ key: string; n: number; shardId: string; sequenceNumber: string }> = [];
    for (let n = 0; n < 12; n++) {
      const key = `user-${n % 4}`;
      const out = await kinesis.send(
        new PutRecordCommand({ StreamName: stream, PartitionKey: key, Data: Buffer.from(JSON.stringify({ n, key })) }),
      );
      put.push({ key, n, shardId: out.ShardId!, sequenceNumber: out.SequenceNumber! });
    }
    const { Shards: shards } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    expect(shards).toHaveLength(2);

    // The ESM's event: each shard's records in order, as Lambda shapes them.
    const Records = (await kinesisEventsByShard(kinesis, stream, summary!.StreamARN!, 'us-east-1')).flatMap(
      ({ event }) => event.Records,
    );

    const records = decodeKinesisEvent({ Records });

    expect(records).toHaveLength(12);
    for (const r of records) {
      // A sequence number is unique within its shard only (moto numbers each shard from the same start).
      const sent = put.find((p) => p.shardId === r.partition && p.sequenceNumber === r.sequenceNumber)!;
      expect(sent).toBeDefined();
      expect(r).toMatchObject({ topic: stream, partitionKey: sent.key });
      expect(r.valueAsJson()).toEqual({ n: sent.n, key: sent.key });
      expect(Math.abs(r.timestamp - Date.now())).toBeLessThan(120_000);
    }
    // Records of a shard come in put order.
    for (const shard of shards!) {
      const ns = records.filter((r) => r.partition === shard.ShardId).map((r) => (r.valueAsJson() as { n: number }).n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }
  });
});
