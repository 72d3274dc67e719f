/** Against a local endpoint (an emulator) without AWS credentials in the environment, any credentials do. */
export function localAwsSettings(endpoint: string | undefined, region: string | undefined): Record<string, unknown> {
  const hasCredentials = !!(
    process.env.AWS_ACCESS_KEY_ID ||
    process.env.AWS_PROFILE ||
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI
  );
  return {
    region: region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    ...(endpoint && !hasCredentials ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  };
}
