/**
 * With several problems on the command line, the emulator names a malformed number flag first: every number flag is
 * read before the mapping's kind is chosen, so the error does not depend on what the Kafka or Kinesis command lacks.
 */
import { parseCommand } from '../../cli/cli';

describe('parseCommand: which error is named first', () => {
  test.each([
    [
      'a Kafka command without --bootstrap-servers',
      ['--topic', 't', '--function-name', 'f', '--batch-size', 'ten'],
      /--batch-size must be a number, got "ten"/,
    ],
    [
      'a Kafka command without --bootstrap-servers (timestamp)',
      ['--topic', 't', '--function-name', 'f', '--starting-position-timestamp', 'noon'],
      /--starting-position-timestamp must be a number, got "noon"/,
    ],
    [
      'a Kinesis command with a schema registry',
      ['--stream', 's', '--function-name', 'f', '--schema-registry', 'http://r:8081', '--retry-attempts', 'many'],
      /--retry-attempts must be a number, got "many"/,
    ],
  ])('GIVEN %s and a number flag that is not a number WHEN it is parsed THEN the number flag is named', (_, argv, message) => {
    // WHEN / THEN
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
