import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** An App with the same feature flags as cdk.json, so CloudFormation schema warnings are errors here too. */
export function testApp(): App {
  return new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
}

export function testStack(app = testApp()): Stack {
  return new Stack(app, 'TestStack', { env: { account: '111122223333', region: 'us-east-1' } });
}

export function testFunction(stack: Stack, id = 'Target'): lambda.Function {
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => undefined;'),
  });
}

export const MSK_ARN = 'arn:aws:kafka:us-east-1:111122223333:cluster/orders/5a0b3c1d-1111-2222-3333-444455556666-2';
