import { Match, Template } from 'aws-cdk-lib/assertions';
import { DISPATCHER_CONFIG_ENV, parseDispatcherConfig } from '../../contract/dispatcher-config';

/** The dispatcher's configuration JSON as the function receives it, with CloudFormation tokens replaced by placeholders. */
export function configOf(template: Template): any {
  const fn = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Environment: Match.anyValue() } }),
  ).find((f: any) => f.Properties.Environment.Variables[DISPATCHER_CONFIG_ENV] !== undefined) as any;
  const value = fn.Properties.Environment.Variables[DISPATCHER_CONFIG_ENV];
  const parts: unknown[] = value['Fn::Join'][1];
  const json = parts.map((p) => (typeof p === 'string' ? p : `TOKEN:${JSON.stringify(p).replace(/"/g, "'")}`)).join('');
  return parseDispatcherConfig(json);
}
