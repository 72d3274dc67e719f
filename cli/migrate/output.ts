/** What `migrate plan` prints: the code (unless written to a file), the groups, the secrets, every key, the notes. */
import { KeyRow } from './derivation';
import { MigrationPlan } from './plan';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The keys as a Markdown table. */
export function keyTable(rows: KeyRow[]): string[] {
  return [
    '| key | value | status | becomes | why |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${cell(r.key)} | ${cell(r.value)} | ${r.status} | ${cell(r.prop ?? '')} | ${cell(r.note)} |`),
  ];
}

/** A word for a POSIX shell: as it is when it holds only safe characters, else single-quoted. */
const shellWord = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The `migrate offsets` command line for these groups (a dry run first; credentials as placeholders). */
export function offsetsCommandLine(plan: MigrationPlan): string {
  return [
    'cdk-kafka-lambda migrate offsets',
    `--connector ${shellWord(plan.connectorName)}`,
    plan.connectorGroup === `connect-${plan.connectorName}` ? '' : `--connector-group ${shellWord(plan.connectorGroup)}`,
    ...plan.groups.map((g) => `--group ${shellWord(`${g.topic}=${g.groupId}`)}`),
    `--bootstrap-servers ${plan.bootstrapServers ? shellWord(plan.bootstrapServers.join(',')) : 'HOST:PORT'}`,
    plan.offsetsAuthFlags,
    '--dry-run',
  ]
    .filter(Boolean)
    .join(' ');
}

function groupLines(plan: MigrationPlan): string[] {
  const width = Math.max(...plan.groups.map((g) => g.topic.length), 5);
  const path = `${plan.app.stackName}/${plan.app.constructId}/Trigger`;
  return [
    '## Consumer groups',
    '',
    `The connector committed the offsets of all its topics to the group ${plan.connectorGroup}. The construct makes one`,
    'mapping, and one consumer group, per topic:',
    '',
    ...plan.groups.map((g) => `  ${g.topic.padEnd(width)}  ${g.groupId}`),
    '',
    plan.pinned
      ? 'The code pins them with consumerGroupIds: renaming or moving the construct keeps them.'
      : `They are generated from the path ${path}: another stack name or construct id gives other groups.`,
    `Copy the connector's offsets into them after stopping the connector and before the mappings run:`,
    '',
    `  ${offsetsCommandLine(plan)}`,
    '',
    `Grant the mappings' Kafka principal Read on these groups (the connector had it on ${plan.connectorGroup}).`,
  ];
}

function secretLines(plan: MigrationPlan): string[] {
  if (!plan.secrets.length) return [];
  return [
    '',
    '## Secrets to create',
    '',
    "The connector's credentials are not printed. Create these in Secrets Manager (in the stack's account and region)",
    'before deploying; the code imports them by name:',
    '',
    ...plan.secrets.flatMap((s) => [
      `  ${s.name}`,
      `    value: ${s.shape}`,
      ...(s.from.length ? [`    from:  ${s.from.join(', ')}`] : []),
      `    aws secretsmanager create-secret --name ${s.name} --secret-string file://${s.name}.json`,
    ]),
  ];
}

/** The whole report; `codeFile` when the code was written there instead of printed. */
export function formatPlan(plan: MigrationPlan, codeFile?: string): string {
  const title =
    plan.kind === 'confluent' ? "Confluent's AWS Lambda sink connector" : "Nordstrom's kafka-connect-lambda connector";
  const lines = [
    `# ${plan.connectorName} (${title}) as a LambdaSinkConnector`,
    '',
    ...(codeFile
      ? [`The ${plan.language} code is in ${codeFile}.`]
      : [`## Code (${plan.language})`, '', '```' + (plan.language === 'python' ? 'python' : 'ts'), plan.code.trimEnd(), '```']),
    '',
    ...groupLines(plan),
    ...secretLines(plan),
    '',
    '## Keys',
    '',
    ...keyTable(plan.rows),
    ...(plan.notes.length ? ['', '## To do', '', ...plan.notes.map((n) => `- ${n}`)] : []),
  ];
  return `${lines.join('\n')}\n`;
}
