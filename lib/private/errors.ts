import { Construct } from 'constructs';

/**
 * The one validation error of the constructs: names the construct (its class and path), the prop, the value
 * received and the fix.
 */
export class ValidationError extends Error {
  constructor(scope: Construct, prop: string, value: unknown, fix: string) {
    super(`${scope.constructor.name} ${scope.node.path}: ${prop} ${describe(value)}: ${fix}`);
    this.name = 'ValidationError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'is not set';
  const s = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return `was ${s && s.length > 120 ? s.slice(0, 117) + '...' : s}`;
}
