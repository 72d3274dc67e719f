/** cdk-kafka-lambda migrate: from a Kafka Connect Lambda sink connector to LambdaSinkConnector (plan, offsets). */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Language } from './codegen';
import { ConnectorConfigError, readConnectorConfig } from './read-config';

export const MIGRATE_PLAN_USAGE = `usage: cdk-kafka-lambda migrate plan CONFIG [--language typescript|python] [--name CONSTRUCT_ID] [--out FILE]

  Reads a Kafka Connect connector's config (Confluent's io.confluent.connect.aws.lambda.AwsLambdaSinkConnector or
  Nordstrom's com.nordstrom.kafka.connect.lambda.LambdaSinkConnector) and prints the LambdaSinkConnector that does its
  job, then what became of every key: mapped (to which prop), not needed (why) or not supported (why, the nearest).
  CONFIG                        the JSON of GET /connectors/NAME from Connect's REST API, its "config" object,
                                or a .properties file
  --language typescript|python  the code's language (default typescript): a stack class and its app
  --name CONSTRUCT_ID           the connector's construct id (default: the connector's name in PascalCase)
  --out FILE                    write the code to FILE instead of printing it
  It names the consumer group of each topic's mapping, which replaces the connector's group connect-NAME (copy
  its offsets with \`migrate offsets\`), and the secrets to create: credentials in the config are never printed.`;

export const MIGRATE_USAGE = `usage: cdk-kafka-lambda migrate <subcommand> [--help]
  plan      a Kafka Connect Lambda sink connector's config as LambdaSinkConnector code, every key accounted for
  offsets   copy the connector's committed offsets (group connect-NAME) into each mapping's consumer group

${MIGRATE_PLAN_USAGE}`;

const FLAGS = {
  language: { type: 'string' },
  name: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `migrate plan`: the report to stdout; a config it cannot read: the reason to stderr, exit status 2. */
export async function planCommand(args: string[]): Promise<void> {
  try {
    const { values, positionals } = parseArgs({ args, options: FLAGS, allowPositionals: true });
    if (values.help) {
      process.stdout.write(`${MIGRATE_PLAN_USAGE}\n`);
      return;
    }
    if (positionals.length !== 1) throw new ConnectorConfigError(`give one CONFIG file\n${MIGRATE_PLAN_USAGE}`);
    const language = (values.language ?? 'typescript') as Language;
    if (language !== 'typescript' && language !== 'python')
      throw new ConnectorConfigError(`--language must be typescript or python, got "${values.language}"`);
    const { buildPlan } = await import('./plan');
    const { formatPlan } = await import('./output');
    const plan = buildPlan(readConnectorConfig(positionals[0]), { language, constructId: values.name });
    if (values.out) fs.writeFileSync(values.out, plan.code);
    process.stdout.write(formatPlan(plan, values.out));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}

/** `migrate <subcommand>`: plan here, offsets in ./offsets-command. */
export async function migrateCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'plan') return planCommand(rest);
  if (sub === 'offsets') return (await import('./offsets-command')).offsetsCommand(rest);
  const help = !sub || sub === '--help' || sub === '-h';
  if (!help) process.stderr.write(`unknown migrate subcommand "${sub}"\n`);
  (help ? process.stdout : process.stderr).write(`${MIGRATE_USAGE}\n`);
  process.exitCode = help ? 0 : 2;
}
