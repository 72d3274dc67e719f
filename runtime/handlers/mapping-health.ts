/**
 * The mapping health function, run on a schedule by KafkaTrigger and KinesisTrigger: reads the trigger's event source
 * mappings and writes a `MappingHealthy` metric per mapping to its log (embedded metric format). Thin: the check is
 * runtime/mapping-health.ts.
 */
import { DEFAULTS } from '../../contract/dispatcher-config';
import { JsonLogger } from '../logger';
import { checkMappingHealth, mappingHealthConfigFromEnv } from '../mapping-health';
import { lambdaSdk } from '../sdk';

let client: import('@aws-sdk/client-lambda').LambdaClient | undefined;

export const handler = async (_event: unknown, context?: { awsRequestId?: string }): Promise<{ healthy: boolean[] }> => {
  const config = mappingHealthConfigFromEnv();
  const sdk = lambdaSdk();
  // The SDK takes the endpoint from AWS_ENDPOINT_URL_LAMBDA when it is set.
  client ??= new sdk.LambdaClient({});
  const logger = new JsonLogger({ service: config.trigger });
  if (context?.awsRequestId) logger.append({ function_request_id: context.awsRequestId });
  const verdicts = await checkMappingHealth(config, {
    getMapping: (uuid) => client!.send(new sdk.GetEventSourceMappingCommand({ UUID: uuid })),
    logger,
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? DEFAULTS.metricsNamespace,
    write: (line) => process.stdout.write(line),
  });
  return { healthy: verdicts.map((v) => v.healthy) };
};
