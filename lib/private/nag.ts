import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { IConstruct } from 'constructs';

/**
 * A resolved CloudFormation value in the notation cdk-nag uses for granular finding ids:
 * `{ "Fn::GetAtt": ["X", "Arn"] }` → `<X.Arn>`, `{ "Ref": "X" }` → `<X>`, `Fn::Join` concatenated.
 */
export function nagNotation(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { [key: string]: any };
  if (v?.Ref) return `<${v.Ref}>`;
  if (v?.['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
  if (v?.['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(nagNotation).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** cdk-nag's finding id for the basic execution managed policy (AwsSolutions-IAM4). */
export const IAM4_BASIC_EXECUTION =
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/**
 * Acknowledges a cdk-nag finding on a construct, the id as cdk-nag reports it (`AwsSolutions-SMG4`,
 * `AwsSolutions-IAM5[Resource::<Key.Arn>:*]`): the metadata entry `Validations.acknowledge` records and
 * cdk-nag 3 reads (`Validations.ACKNOWLEDGED_RULES_METADATA_KEY`), written directly because aws-cdk-lib
 * before 2.269 refuses an id with more than one `::`, as every granular id of an ARN (`<AWS::Partition>`) has,
 * and the package supports aws-cdk-lib from its peer range minimum on.
 */
export function acknowledgeFinding(scope: IConstruct, id: string, reason: string): void {
  scope.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [id]: reason });
}

/**
 * Acknowledges each wildcard resource of a policy (AwsSolutions-IAM5) for which `reasonFor` gives a reason, one
 * acknowledgement per resource, so that a wildcard added later is still reported. Through aws-cdk-lib's
 * Validations metadata, which cdk-nag 3 reads, so the library needs no cdk-nag dependency.
 */
export function acknowledgeWildcards(
  policy: iam.Policy | undefined,
  reasonFor: (statement: any, resource: unknown) => string | undefined,
): void {
  if (!policy) return;
  const stack = Stack.of(policy);
  const done = new Set<string>();
  for (const statement of stack.resolve(policy.document.toJSON())?.Statement ?? []) {
    for (const resource of [statement.Resource].flat()) {
      const id = `AwsSolutions-IAM5[Resource::${nagNotation(resource)}]`;
      const reason = reasonFor(statement, resource);
      if (!id.includes('*') || done.has(id) || reason === undefined) continue;
      done.add(id);
      acknowledgeFinding(policy, id, reason);
    }
  }
}

/** Acknowledges AwsSolutions-SMG4 (no rotation) on the Kafka credential secrets a construct created itself. */
export function acknowledgeCreatedSecrets(owner: IConstruct, secrets: Array<secretsmanager.ISecret | undefined>): void {
  for (const secret of secrets) {
    if (secret instanceof secretsmanager.Secret && secret.node.scope === owner) {
      acknowledgeFinding(
        secret,
        'AwsSolutions-SMG4',
        'Kafka credentials change together with the broker-side user or certificate; Secrets Manager has no rotation function for Kafka users.',
      );
    }
  }
}
