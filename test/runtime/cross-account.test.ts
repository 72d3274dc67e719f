import { LambdaClient } from '@aws-sdk/client-lambda';
import { STSClient } from '@aws-sdk/client-sts';
import {
  assumedRoleCredentials,
  decodeEvent,
  InvocationBatch,
  planBatches,
  TargetInvocationError,
  TargetInvoker,
  TargetRoleError,
} from '../../runtime';
import { kafkaEvent, partitionSpecs } from './support';

const ROLE_ARN = 'arn:aws:iam::111111111111:role/invoker';

/** An STS client whose every call is refused as STS refuses a role whose trust policy does not admit the caller. */
function refusingSts(): { client: STSClient; calls: () => number } {
  let n = 0;
  const client = {
    send: async () => {
      n++;
      throw Object.assign(new Error('not authorized to perform: sts:AssumeRole'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });
    },
  };
  return { client: client as unknown as STSClient, calls: () => n };
}

describe('assumedRoleCredentials', () => {
  test('GIVEN STS refuses the role WHEN credentials are asked for THEN TargetRoleError names the role and is not retryable', async () => {
    const error = await assumedRoleCredentials({ roleArn: ROLE_ARN, client: refusingSts().client })().catch((e) => e);
    expect(error).toBeInstanceOf(TargetRoleError);
    expect(error.message).toBe(`assuming ${ROLE_ARN} failed: AccessDenied: not authorized to perform: sts:AssumeRole`);
    expect(error.$metadata).toEqual({ httpStatusCode: 403 });
    expect(error.$retryable).toBeUndefined();
  });

  test('GIVEN STS refuses the role WHEN the target is invoked THEN the batch fails after one attempt, as not run', async () => {
    const sts = refusingSts();
    const credentials = assumedRoleCredentials({ roleArn: ROLE_ARN, client: sts.client });
    // The endpoint is never called: the request is not signed without credentials.
    const lambda = new LambdaClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1, credentials });
    const batch = planBatches(decodeEvent(kafkaEvent(partitionSpecs('t', 0, 5, 2))), 'confluent', 100, 6 * 1024 * 1024, {
      eventSource: 'SelfManagedKafka',
    })[0] as InvocationBatch;
    const error = await new TargetInvoker({ functionName: 'f', maxAttempts: 5, client: lambda })
      .invoke(batch, Date.now() + 10_000)
      .catch((e) => e);
    expect(error).toBeInstanceOf(TargetInvocationError);
    expect(error.message).toBe(
      `t-0@5..6: invoking f failed: TargetRoleError: assuming ${ROLE_ARN} failed: AccessDenied: not authorized to perform: sts:AssumeRole`,
    );
    expect(error.outcome).toBe('failed');
    expect(sts.calls()).toBe(1);
  });
});
