// Puts certificate files into a bucket of the test S3 server, as an operator
// would with `aws s3 cp`.
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { S3rverHandle } from "../../app/test/support/s3rver.js";
import type { Pki } from "./pki.js";

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}

/** files: object key -> PEM text (null deletes the key). */
export async function putFiles(client: S3Client, bucket: string, files: Record<string, string | null>): Promise<void> {
  for (const [key, body] of Object.entries(files)) {
    if (body === null) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    else await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }
}

/** Environment for nginx/render to read CERT_BUCKET from the test S3 server. */
export function certBucketEnv(s3: S3rverHandle, bucket: string): Record<string, string> {
  const { S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = s3.env;
  return { CERT_MODE: "FROMS3", CERT_BUCKET: bucket, S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY };
}

/** What a FROMS3 front with client certificates reads: the PKI's server certificate and key, its CA as truststore. */
export function frontFiles(pki: Pki): Record<string, string> {
  return { "certificate.crt": pki.server.certPem, "certificate.key": pki.server.keyPem, "truststore.crt": pki.ca.certPem };
}

/** A new bucket holding `files`, and the environment for nginx/render to read it. */
export async function certBucket(s3: S3rverHandle, bucket: string, files: Record<string, string>): Promise<Record<string, string>> {
  await createBucket(s3.client, bucket);
  await putFiles(s3.client, bucket, files);
  return certBucketEnv(s3, bucket);
}
