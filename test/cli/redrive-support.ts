/** What the redrive integration tests share: one run of the command as a user gives it, and a queue's depth. */
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as te from '../../testenv';
import { parseRedriveArgs } from '../../cli/redrive/options';
import { redrive, RedriveSummary } from '../../cli/redrive/redrive';

export interface RedriveRun {
  readonly summary: RedriveSummary;
  /** The summary line, and the listing of a dry run. */
  readonly out: string[];
  /** Progress and problems. */
  readonly err: string[];
  /** Everything it printed. */
  readonly printed: string;
}

/**
 * `cdk-kafka-lambda redrive SOURCE… --function-name FN` against the test environment (the broker's PLAINTEXT listener
 * unless bootstrapServers is false, the Lambda front, moto for SQS, S3 and Kinesis), with its state in stateFile and
 * progress as on a pipe.
 */
export async function runRedrive(
  functionName: string,
  source: string[],
  stateFile: string,
  extra: string[] = [],
  { bootstrapServers = true } = {},
): Promise<RedriveRun> {
  const env = te.loadEnv();
  const out: string[] = [];
  const err: string[] = [];
  const summary = await redrive(
    parseRedriveArgs([
      ...source,
      ...(bootstrapServers ? ['--bootstrap-servers', env.kafka.bootstrap.plaintext] : []),
      '--function-name',
      functionName,
      '--lambda-endpoint',
      env.lambda.endpoint,
      '--aws-endpoint',
      env.moto.endpoint,
      '--kinesis-endpoint',
      env.moto.endpoint,
      '--region',
      env.region,
      '--state-file',
      stateFile,
      ...extra,
    ]),
    { out: (l) => out.push(l), err: (l) => err.push(l), tty: { isTTY: false, write: () => true } },
  );
  return { summary, out, err, printed: [...out, ...err].join('\n') };
}

/** Messages in the queue, visible or not. */
export async function queueDepth(sqs: SQSClient, url: string): Promise<number> {
  const a = (
    await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    )
  ).Attributes!;
  return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
}
