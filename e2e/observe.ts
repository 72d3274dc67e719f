/** What the fault ledgers read at the pipeline's ends: Kafka topics to their end, dispatcher logs, results. */
import * as fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Kafka } from 'kafkajs';
import * as te from '../testenv';
import { CANARY } from './workload';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface Message {
  partition: number;
  offset: number;
  key: string;
  keyBase64: string | null;
  value: Buffer;
}

/** Every message of a topic up to its current end. */
export async function readAll(kafka: Kafka, topic: string): Promise<Message[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = new Map(ends.map((p) => [p.partition, Number(p.high)]));
  const out: Message[] = [];
  if ([...want.values()].every((h) => h === 0)) return out;
  const seen = new Map<number, number>();
  const consumer = kafka.consumer({ groupId: `ledger-${randomUUID()}`, maxBytesPerPartition: 8 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      out.push({
        partition,
        offset: Number(message.offset),
        key: String(message.key),
        keyBase64: message.key ? message.key.toString('base64') : null,
        value: message.value ?? Buffer.alloc(0),
      });
      seen.set(partition, Number(message.offset) + 1);
    },
  });
  await waitFor(`${topic} read to its end`, () => [...want].every(([p, h]) => h === 0 || (seen.get(p) ?? 0) >= h), 120_000);
  await consumer.disconnect();
  return out;
}

/** A response value holds the target's result for its record (the echo target's payload with a result). */
export function hasResult(value: Buffer): boolean {
  try {
    const v = JSON.parse(value.toString('utf8'));
    return typeof v === 'object' && v !== null && v.result !== undefined && v.result !== null;
  } catch {
    return false;
  }
}

/** Lines of a log file that contain the text (0 when there is no file). */
export function countLines(file: string, text: string): number {
  if (!fs.existsSync(file)) return 0;
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes(text)).length;
}

/** Every message body of a queue (the on-failure records), parsed; the queue is empty afterwards. */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<any[]> {
  const bodies: any[] = [];
  for (;;) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (!r.Messages?.length) return bodies;
    bodies.push(...r.Messages.map((m) => JSON.parse(m.Body!)));
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: r.Messages.map((x, i) => ({ Id: String(i), ReceiptHandle: x.ReceiptHandle! })),
      }),
    );
  }
}

/** Invocations the Lambda front answered with a function error or an error status (failed or timed out). */
export const failedInvocations = (invocations: readonly te.InvocationRecord[]) =>
  invocations.filter((i) => i.functionError || (i.status !== undefined && i.status >= 400)).length;

/** Waits until one of the functions (`who` names them) has an invocation in flight, or the run is done. */
export async function waitForInFlight(
  who: string,
  names: readonly string[],
  testEnv: te.TestEnv,
  done: () => boolean,
): Promise<void> {
  const inFlight = async () =>
    (await Promise.all(names.map((n) => te.listInvocations(n, testEnv)))).flat().some((i) => i.doneAt === undefined);
  await waitFor(`a ${who} invocation in flight`, async () => (await inFlight()) || done(), 30_000);
}

/** Log lines of the named function's sandboxes (every start of it) that hold the canary. */
export const canaryInLogs = (fns: readonly te.RunningLambda[], name: string) =>
  fns.filter((f) => f.name === name).reduce((a, f) => a + countLines(f.logFile, CANARY), 0);

/** The last lines of the named function's newest sandbox log (its logs never hold record bytes: canaryInLogs checks). */
export function lastLogLines(fns: readonly te.RunningLambda[], name: string, count: number): string[] {
  const newest = fns.filter((f) => f.name === name).at(-1);
  if (newest === undefined || !fs.existsSync(newest.logFile)) return [];
  return fs.readFileSync(newest.logFile, 'utf8').trimEnd().split('\n').slice(-count);
}

/** The error topic's records, key and value parsed. */
export async function readErrorRecords(kafka: Kafka, topic: string): Promise<{ key: any; value: any }[]> {
  return (await readAll(kafka, topic)).map((msg) => ({
    key: JSON.parse(msg.key),
    value: JSON.parse(msg.value.toString('utf8')),
  }));
}
