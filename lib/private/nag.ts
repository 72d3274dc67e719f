import { Stack } from 'aws-cdk-lib';
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

/** cdk-nag's finding id for a wildcard resource of an IAM statement (AwsSolutions-IAM5). */
export function iam5ResourceFinding(scope: IConstruct, resource: string): string {
  return `AwsSolutions::AwsSolutions-IAM5[Resource::${nagNotation(Stack.of(scope).resolve(resource))}]`;
}

/** cdk-nag's finding id for the basic execution managed policy (AwsSolutions-IAM4). */
export const IAM4_BASIC_EXECUTION = 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';
