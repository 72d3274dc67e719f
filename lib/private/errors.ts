import { Construct } from 'constructs';

/** A message naming the prop, the value received and the fix. */
export class KafkaTriggerValidationError extends Error {
  constructor(scope: Construct, prop: string, value: unknown, fix: string) {
    super(`KafkaTrigger ${scope.node.path}: ${prop} ${describe(value)}: ${fix}`);
    this.name = 'KafkaTriggerValidationError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'is not set';
  const s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return `was ${s && s.length > 120 ? s.slice(0, 117) + '...' : s}`;
}

/** A message naming the prop, the value received and the fix, for a KinesisTrigger. */
export class KinesisTriggerValidationError extends Error {
  constructor(scope: Construct, prop: string, value: unknown, fix: string) {
    super(`KinesisTrigger ${scope.node.path}: ${prop} ${describe(value)}: ${fix}`);
    this.name = 'KinesisTriggerValidationError';
  }
}

/** A message naming the prop, the value received and the fix, for a KafkaDispatcher. */
export class KafkaDispatcherValidationError extends Error {
  constructor(scope: Construct, prop: string, value: unknown, fix: string) {
    super(`KafkaDispatcher ${scope.node.path}: ${prop} ${describe(value)}: ${fix}`);
    this.name = 'KafkaDispatcherValidationError';
  }
}

/** A message naming the prop, the value received and the fix, for a LambdaSinkConnector. */
export class LambdaSinkConnectorValidationError extends Error {
  constructor(scope: Construct, prop: string, value: unknown, fix: string) {
    super(`LambdaSinkConnector ${scope.node.path}: ${prop} ${describe(value)}: ${fix}`);
    this.name = 'LambdaSinkConnectorValidationError';
  }
}
