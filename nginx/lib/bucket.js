// Reads the certificate files from CERT_BUCKET. A missing object is reported
// as null so the caller decides whether that is allowed; any other failure
// (no access, no bucket, no network) is an error, because the front must not
// start on a guess.
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";

export class BucketError extends Error {
  constructor(message) {
    super(message);
    this.name = "BucketError";
  }
}

/** @param {import("./settings.js").Settings["s3"]} s3 */
export function makeS3Client(s3) {
  return new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
    // Checksums only when S3 requires them: S3-compatible test servers reject
    // the newer default ones, and TLS already protects these small files.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
  });
}

/**
 * @param {S3Client} client
 * @param {string} bucket
 * @param {string} key
 * @returns {Promise<Buffer | null>}
 */
export async function readObject(client, bucket, key) {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!response.Body) return Buffer.alloc(0);
    return Buffer.from(await response.Body.transformToByteArray());
  } catch (error) {
    const name = error?.name ?? "Error";
    const status = error?.$metadata?.httpStatusCode;
    if (name === "NoSuchKey" || (status === 404 && name !== "NoSuchBucket")) return null;
    const where = `s3://${bucket}/${key}`;
    if (name === "NoSuchBucket") throw new BucketError(`cannot read ${where}: bucket "${bucket}" does not exist`);
    const detail = String(error?.message ?? error).split("\n")[0];
    if (name === "AccessDenied" || status === 403) {
      throw new BucketError(
        `cannot read ${where}: access denied (${name}: ${detail}); the task role needs s3:GetObject on it, ` +
          "and s3:ListBucket on the bucket so that a missing file reads as missing",
      );
    }
    throw new BucketError(`cannot read ${where}: ${name}${status ? ` (HTTP ${status})` : ""}: ${detail}`);
  }
}
