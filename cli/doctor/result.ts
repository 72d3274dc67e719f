/** What each check of `cdk-kafka-lambda doctor` reports, and the mapping's own texts for what it finds. */

export type Step = 'network' | 'tls' | 'auth' | 'topics' | 'group' | 'acls' | 'schema-registry';
export type Status = 'passed' | 'failed' | 'skipped' | 'unchecked';

export interface CheckResult {
  readonly step: Step;
  /** What was checked: a bootstrap server, a topic, an ACL … */
  readonly subject: string;
  readonly status: Status;
  /** What was found; never a password or a record's bytes. */
  readonly detail: string;
  /** The LastProcessingResult the mapping would show, when Lambda has a text for it. */
  readonly problem?: string;
  readonly fix?: string;
}

/**
 * The event source mapping's LastProcessingResult texts. The authentication and authorization ones are the error
 * messages listed under "Authentication and authorization errors" of "Troubleshooting Kafka event source mapping
 * errors" (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-troubleshoot.html), word for word, with the
 * "PROBLEM: " prefix LastProcessingResult gives them. The connection error is the self-managed Kafka mapping's text
 * for brokers it cannot reach (its VPC form, "PROBLEM: Connection error. Your event source VPC must be able to
 * connect to Lambda and STS, …", is what test/runtime/mapping-health.integ.test.ts answers with); "Topic not found"
 * is the mapping's text for a topic the cluster does not have.
 */
export const PROBLEM = {
  connection: 'PROBLEM: Connection error. Please check your event source connection configuration.',
  clusterFailedToAuthorize: 'PROBLEM: Cluster failed to authorize Lambda',
  saslAuthenticationFailed: 'PROBLEM: SASL authentication failed',
  serverFailedToAuthenticateLambda: 'PROBLEM: Server failed to authenticate Lambda',
  lambdaFailedToAuthenticateServer: 'PROBLEM: Lambda failed to authenticate server',
  invalidCertificateOrKey: 'PROBLEM: Provided certificate or private key is invalid',
  topicNotFound: 'PROBLEM: Topic not found',
} as const;

/** The results' exit status: 0 when every check passed, else 1. */
export function exitStatus(results: readonly CheckResult[]): number {
  return results.length > 0 && results.every((r) => r.status === 'passed') ? 0 : 1;
}
