/**
 * The on-failure objects of an S3 destination: each the whole invocation record, JSON (seed 002, Lambda's "S3
 * destination example invocation record": the SQS/SNS record's fields plus `payload`, the original event as an
 * escaped JSON string). Objects are never deleted: those whose records all succeeded are kept in the state file.
 */
import { localAwsSettings } from '../aws';
import { onFailureItem, Source, WorkItem } from './sources';

/** "s3://bucket/prefix" → bucket and prefix (empty for the whole bucket). */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3://BUCKET[/PREFIX] URI: "${uri}"`);
  return { bucket: m[1], prefix: m[2] };
}

/** Every object under the prefix now, except those the state file says are done (counted, not read). */
export async function s3Source(
  uri: string,
  aws: { endpoint?: string; region?: string },
  objectsDone: ReadonlyMap<string, number>,
  warn: (line: string) => void,
): Promise<Source> {
  const s3 = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  const client = new s3.S3Client({ ...localAwsSettings(aws.endpoint, aws.region), forcePathStyle: true });
  const { bucket, prefix } = parseS3Uri(uri);
  const items: WorkItem[] = [];
  let alreadyDone = 0;
  let skipped = 0;
  try {
    let ContinuationToken: string | undefined;
    do {
      const page = await client.send(
        new s3.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken }),
      );
      for (const o of page.Contents ?? []) {
        const key = `s3://${bucket}/${o.Key}`;
        const done = objectsDone.get(key);
        if (done !== undefined) {
          alreadyDone += done;
          continue;
        }
        const label = `s3 object ${key}`;
        try {
          const body = await (
            await client.send(new s3.GetObjectCommand({ Bucket: bucket, Key: o.Key }))
          ).Body!.transformToString();
          items.push(onFailureItem(label, body, { doneKey: key }));
        } catch (e) {
          skipped++;
          warn(`${label}: ${(e as Error).message}; skipped (not recorded as done)`);
        }
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  } finally {
    client.destroy();
  }
  return { items, alreadyDone, skipped, close: async () => undefined };
}
