import type { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { DEFAULTS } from '../contract/dispatcher-config';
import { TargetRoleError } from './errors';
import type { Logger } from './logger';
import { stsSdk } from './sdk';

export interface AssumedRoleCredentialsOptions {
  /** The role to assume, e.g. one in the target's account. */
  readonly roleArn: string;
  /** The external ID its trust policy requires. @default - none */
  readonly externalId?: string;
  /** Session length in seconds (900 to the role's maximum). @default 3600 */
  readonly durationSeconds?: number;
  /** @default - the function's name (AWS_LAMBDA_FUNCTION_NAME), or 'cdk-kafka-lambda' */
  readonly sessionName?: string;
  /** @default - an STS client of the function's region (through the STS VPC endpoint when in a VPC) */
  readonly client?: STSClient;
  readonly logger?: Logger;
}

/** RoleSessionName: 2 to 64 characters of [\w+=,.@-]. */
function sessionNameOf(name: string | undefined): string {
  const clean = (name ?? 'cdk-kafka-lambda').replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return clean.length >= 2 ? clean : 'cdk-kafka-lambda';
}

/**
 * Credentials of an assumed role, for the LambdaClient that invokes the target. The client keeps the credentials
 * and asks for new ones when they expire within 5 minutes (the SDK's identity cache): one AssumeRole call per
 * execution environment per session, never one per invocation. A failed AssumeRole throws TargetRoleError.
 */
export function assumedRoleCredentials(options: AssumedRoleCredentialsOptions): AwsCredentialIdentityProvider {
  let client = options.client;
  const sessionName = sessionNameOf(options.sessionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME);
  return async (): Promise<AwsCredentialIdentity> => {
    const sdk = stsSdk();
    client ??= new sdk.STSClient({});
    let out;
    try {
      out = await client.send(
        new sdk.AssumeRoleCommand({
          RoleArn: options.roleArn,
          RoleSessionName: sessionName,
          ExternalId: options.externalId,
          DurationSeconds: options.durationSeconds ?? DEFAULTS.assumeRoleSeconds,
        }),
      );
    } catch (e) {
      throw new TargetRoleError(options.roleArn, e as Error);
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
      throw new TargetRoleError(options.roleArn, new Error('AssumeRole answered without credentials'));
    }
    options.logger?.info('assumed the target role', { roleArn: options.roleArn, expiration: c.Expiration?.toISOString() });
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration,
    };
  };
}
