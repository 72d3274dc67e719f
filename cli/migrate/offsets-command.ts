/** cdk-kafka-lambda migrate offsets as the command line runs it: the moves to stdout, refusals to stderr (exit 1). */
import { MIGRATE_OFFSETS_USAGE, parseMigrateOffsetsArgs } from './offsets-options';
import { formatMoves, migrateOffsets, MigrateOffsetsError } from './offsets';

export { MIGRATE_OFFSETS_USAGE };

export async function offsetsCommand(args: string[]): Promise<void> {
  if (args.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${MIGRATE_OFFSETS_USAGE}\n`);
    return;
  }
  let parsed;
  try {
    parsed = parseMigrateOffsetsArgs(args);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  for (const notice of parsed.notices) process.stderr.write(`template: ${notice}\n`);
  const { options } = parsed;
  try {
    const result = await migrateOffsets(options, (moves) => process.stdout.write(`${formatMoves(moves).join('\n')}\n`));
    const changed = result.moves.filter((m) => m.to !== undefined && m.to !== m.from).length;
    process.stdout.write(
      changed === 0
        ? `nothing to commit: every group already holds the offsets of ${result.connectorGroup}\n`
        : result.committed
          ? `committed the offsets of ${result.connectorGroup} to ${changed} partition(s)\n`
          : `dry run: would commit the offsets of ${result.connectorGroup} to ${changed} partition(s); nothing committed\n`,
    );
    if (result.otherTopics.length)
      process.stderr.write(
        `${result.connectorGroup} also holds offsets for ${result.otherTopics.join(', ')}: not migrated (no mapping given for them)\n`,
      );
  } catch (e) {
    // A refusal says what to do; a client error (the cluster unreachable, auth refused) names the brokers tried.
    const where = e instanceof MigrateOffsetsError ? '' : `against ${options.kafka.brokers}: ${(e as Error).name}: `;
    process.stderr.write(`${where}${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
