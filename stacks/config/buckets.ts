// The DICOM bucket: its name prefix and how S3 encrypts what it holds.
import { defineBlock } from "./block";

export type BucketEncryption = "SSE-KMS" | "SSE-S3";

export const dicomBucketBlock = defineBlock({
  keys: ["dicomBucket"],
  read(r, earlier: { appName: string }): {
    /** Name prefix of the DICOM bucket (the provider appends a unique suffix). @default "<appName>-dicom" */
    dicomBucket: string;
  } {
    return { dicomBucket: r.bucketPrefix("dicomBucket", r.raw("dicomBucket"), `${earlier.appName}-dicom`) };
  },
});

const encryptionDefaults = {
  /** @default "SSE-KMS" */
  bucketEncryption: "SSE-KMS" as BucketEncryption,
};

export const bucketEncryptionBlock = defineBlock({
  keys: ["bucketEncryption"],
  defaults: encryptionDefaults,
  read(r): {
    /** SSE-KMS (a customer managed key of the stack's own) or SSE-S3 (S3's keys, no KMS cost). @default "SSE-KMS" */
    bucketEncryption: BucketEncryption;
  } {
    const raw = r.raw("bucketEncryption");
    return { bucketEncryption: r.oneOf("bucketEncryption", raw, ["SSE-KMS", "SSE-S3"] as const, encryptionDefaults.bucketEncryption) };
  },
});
