import { Fn, Token } from 'aws-cdk-lib';

/**
 * ARN of an MSK topic or group: the cluster ARN with the resource type swapped,
 * arn:aws:kafka:region:account:cluster/name/uuid → arn:aws:kafka:region:account:topic/name/uuid/<name>.
 * @see https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html#msk-iam-resources
 */
export function mskResourceArn(clusterArn: string, type: 'topic' | 'group', name: string): string {
  if (!Token.isUnresolved(clusterArn)) return `${clusterArn.replace(':cluster/', `:${type}/`)}/${name}`;
  const parts = Fn.split(':cluster/', clusterArn);
  return Fn.join('', [Fn.select(0, parts), `:${type}/`, Fn.select(1, parts), `/${name}`]);
}
