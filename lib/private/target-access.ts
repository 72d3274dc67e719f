import { CfnOutput, Stack, Token, TokenComparison } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { AssumeRoleConfig, EXTERNAL_ID, EXTERNAL_ID_LENGTH } from '../../contract/dispatcher-config';
import { EndpointNeed } from './vpc-endpoints';

/** How the dispatcher may invoke its target. */
export interface TargetAccess {
  /** The services it calls for that, with their endpoint policy statements. */
  readonly needs: EndpointNeed[];
  /** The role it assumes, for its configuration. */
  readonly assumeRole?: AssumeRoleConfig;
  /** What the target's owner adds: the role's trust policy, or the function's resource policy. */
  readonly ownerPolicy?: iam.PolicyDocument;
}

export interface TargetAccessRequest {
  readonly target: lambda.IFunction;
  readonly targetRole?: iam.IRole;
  readonly targetRoleExternalId?: string;
  /** The dispatcher's execution role. */
  readonly role: iam.IRole;
  /** The props' names, for messages: e.g. `targetRoleExternalId` or `routes[1].targetRoleExternalId`. */
  readonly propPrefix: string;
  /** Id of the output with the owner's policy. */
  readonly outputId: string;
  readonly fail: (prop: string, value: unknown, fix: string) => never;
}

/**
 * Grants the dispatcher the invocation of its target: with its own role (`lambda:InvokeFunction` on the target and
 * its versions and aliases; a target in another account also needs its owner's resource policy statement), or with
 * an assumed role (exactly `sts:AssumeRole` on it; the role's trust policy must admit the dispatcher's role).
 * What the owner adds is returned and written as the output `TargetOwnerPolicy`.
 */
export function targetAccess(scope: Construct, r: TargetAccessRequest): TargetAccess {
  const { target, targetRole: role, targetRoleExternalId: externalId } = r;
  if (externalId !== undefined && role === undefined) {
    r.fail(
      `${r.propPrefix}targetRoleExternalId`,
      externalId,
      'an external ID is for the role the dispatcher assumes: set targetRole, or remove targetRoleExternalId',
    );
  }
  if (externalId !== undefined && !Token.isUnresolved(externalId) && !EXTERNAL_ID.test(externalId)) {
    r.fail(
      `${r.propPrefix}targetRoleExternalId`,
      externalId,
      `use ${EXTERNAL_ID_LENGTH[0]} to ${EXTERNAL_ID_LENGTH[1]} characters of letters, digits and +=,.@:/-_, as the role's owner gave it`,
    );
  }
  const invocable = [target.functionArn, `${target.functionArn}:*`];
  const dispatcher = new iam.ArnPrincipal(r.role.roleArn);
  const invokeNeed = (caller: iam.IPrincipal): EndpointNeed => ({
    key: 'lambda',
    label: 'Lambda (the target)',
    statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: invocable, principals: [caller] })],
  });

  if (role !== undefined) {
    role.grantAssumeRole(r.role);
    const trust = new iam.PolicyStatement({ actions: ['sts:AssumeRole'], principals: [dispatcher] });
    if (externalId !== undefined) trust.addCondition('StringEquals', { 'sts:ExternalId': externalId });
    return {
      needs: [
        invokeNeed(new iam.ArnPrincipal(role.roleArn)),
        {
          key: 'sts',
          label: 'STS (the target role)',
          statements: [
            new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [role.roleArn], principals: [dispatcher] }),
          ],
        },
      ],
      assumeRole: { roleArn: role.roleArn, externalId },
      ownerPolicy: ownerOutput(
        scope,
        r.outputId,
        new iam.PolicyDocument({ statements: [trust] }),
        "The trust policy of the target role (targetRole): it admits the dispatcher's role; the role itself must be allowed lambda:InvokeFunction on the target",
      ),
    };
  }

  const accounts = Token.compareStrings(target.env.account, Stack.of(scope).account);
  const inOtherAccount = accounts === TokenComparison.DIFFERENT;
  // grantInvoke refuses a function imported from another account, or from an account it cannot compare with an
  // environment-agnostic stack's (it cannot add to its resource policy): the dispatcher's side is granted here, and
  // for another account the owner's side is printed.
  if (inOtherAccount || accounts === TokenComparison.ONE_UNRESOLVED)
    r.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: invocable }));
  else target.grantInvoke(r.role);
  return {
    needs: [invokeNeed(dispatcher)],
    ownerPolicy: inOtherAccount
      ? ownerOutput(
          scope,
          r.outputId,
          new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({
                actions: ['lambda:InvokeFunction'],
                resources: [target.functionArn],
                principals: [dispatcher],
              }),
            ],
          }),
          "The statement the target's owner adds to its resource policy (aws lambda add-permission --principal <the dispatcher role ARN>)",
        )
      : undefined,
  };
}

function ownerOutput(scope: Construct, id: string, policy: iam.PolicyDocument, description: string): iam.PolicyDocument {
  new CfnOutput(scope, id, { description, value: Stack.of(scope).toJsonString(policy.toJSON()) });
  return policy;
}
