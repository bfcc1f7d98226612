// lifecycle, objectLock, auditTrail: what happens to DICOM objects over time, whether a version
// can be destroyed before its retention ends, and the record of who read or wrote which object.
// stacks/README.md, "Data lifecycle, Object Lock and audit trail".
import { booleanField } from "./alarms";
import { defineBlock } from "./block";

/**
 * Where objects move after `transitionDays`: classes a reader gets bytes from at once.
 * STANDARD: objects stay where they are (no transition rule).
 */
export const TRANSITION_STORAGE_CLASSES = ["INTELLIGENT_TIERING", "STANDARD_IA", "GLACIER_IR", "STANDARD"] as const;
export type TransitionStorageClass = (typeof TRANSITION_STORAGE_CLASSES)[number];
/** Classes whose objects need a restore before a GET: a WADO-RS server could not read them. */
const ARCHIVE_CLASSES = ["GLACIER", "GLACIER_FLEXIBLE_RETRIEVAL", "DEEP_ARCHIVE"];
/** S3 refuses a transition to these classes earlier than this many days after creation. */
const MIN_TRANSITION_DAYS: Partial<Record<TransitionStorageClass, number>> = { STANDARD_IA: 30 };

export interface LifecycleSettings {
  /** Days after an instance is stored before it moves to `storageClass` (0-3650). @default 30 */
  transitionDays: number;
  /** @default "INTELLIGENT_TIERING" */
  storageClass: TransitionStorageClass;
  /** Days an overwritten or deleted version is kept before S3 removes it; 0 keeps them forever. @default 90 */
  noncurrentVersionExpirationDays: number;
  /** Days before an unfinished multipart upload is aborted and its parts dropped. @default 7 */
  abortIncompleteUploadDays: number;
}

export interface ObjectLockSettings {
  /** S3 Object Lock in governance mode on the DICOM bucket. @default false */
  enabled: boolean;
  /** Default retention of every new object version, in days. @default 90 (as long as old versions are kept) */
  retentionDays: number;
}

export interface AuditTrailSettings {
  /** CloudTrail data events (object-level reads and writes) of the DICOM bucket. @default true */
  enabled: boolean;
  /** Days the trail's files are kept. @default 2192 (six years, as long as HIPAA keeps its documentation) */
  retentionDays: number;
}

const lifecycleDefaults = {
  lifecycle: { transitionDays: 30, storageClass: "INTELLIGENT_TIERING" as TransitionStorageClass, noncurrentVersionExpirationDays: 90, abortIncompleteUploadDays: 7 },
};

export const lifecycleBlock = defineBlock({
  keys: ["lifecycle"],
  defaults: lifecycleDefaults,
  read(r): { lifecycle: LifecycleSettings } {
    const key = "lifecycle";
    const d = lifecycleDefaults.lifecycle;
    const fields = r.object(key, r.raw(key), `{ transitionDays: 30, storageClass: INTELLIGENT_TIERING, noncurrentVersionExpirationDays: 90 }`) ?? {};
    r.unknownFields(key, fields, Object.keys(d));
    const rawClass = r.text(key, "storageClass", fields.storageClass, d.storageClass).toUpperCase();
    let storageClass = d.storageClass;
    if (ARCHIVE_CLASSES.includes(rawClass)) {
      r.report(key, `storageClass ${rawClass} needs a restore before any read, so a WADO-RS server could not read the instances; use one of ${TRANSITION_STORAGE_CLASSES.join(", ")}`);
    } else storageClass = r.oneOf(key, rawClass, TRANSITION_STORAGE_CLASSES, d.storageClass, "storageClass");
    const transitionDays = r.integer(key, "transitionDays", fields.transitionDays, d.transitionDays, 0, 3650);
    const minimum = MIN_TRANSITION_DAYS[storageClass];
    if (minimum !== undefined && transitionDays < minimum) {
      r.report(key, `transitionDays must be at least ${minimum} for ${storageClass} (S3 refuses earlier transitions to it), got ${transitionDays}`);
    }
    return {
      lifecycle: {
        transitionDays,
        storageClass,
        noncurrentVersionExpirationDays: r.integer(key, "noncurrentVersionExpirationDays", fields.noncurrentVersionExpirationDays, d.noncurrentVersionExpirationDays, 0, 3650),
        abortIncompleteUploadDays: r.integer(key, "abortIncompleteUploadDays", fields.abortIncompleteUploadDays, d.abortIncompleteUploadDays, 1, 365),
      },
    };
  },
});

const objectLockDefaults = { objectLock: { enabled: false, retentionDays: 90 } };

export const objectLockBlock = defineBlock({
  keys: ["objectLock"],
  defaults: objectLockDefaults,
  // The stacks always make their DICOM bucket (dicomBucket is a name prefix, there is no
  // existing-bucket mode), so the lock can always be set; S3's lock configuration also takes an
  // existing versioned bucket, so turning it on later does not replace the bucket.
  read(r): { objectLock: ObjectLockSettings } {
    const key = "objectLock";
    const d = objectLockDefaults.objectLock;
    const fields = r.object(key, r.raw(key), `{ enabled: true, retentionDays: 90 }`) ?? {};
    r.unknownFields(key, fields, Object.keys(d));
    return {
      objectLock: {
        enabled: booleanField(r, key, fields, "enabled", d.enabled),
        retentionDays: r.integer(key, "retentionDays", fields.retentionDays, d.retentionDays, 1, 3650),
      },
    };
  },
});

const auditTrailDefaults = { auditTrail: { enabled: true, retentionDays: 2192 } };

export const auditTrailBlock = defineBlock({
  keys: ["auditTrail"],
  defaults: auditTrailDefaults,
  read(r): { auditTrail: AuditTrailSettings } {
    const key = "auditTrail";
    const d = auditTrailDefaults.auditTrail;
    const fields = r.object(key, r.raw(key), `{ enabled: true, retentionDays: 2192 }`) ?? {};
    r.unknownFields(key, fields, Object.keys(d));
    return {
      auditTrail: {
        enabled: booleanField(r, key, fields, "enabled", d.enabled),
        retentionDays: r.integer(key, "retentionDays", fields.retentionDays, d.retentionDays, 1, 3653),
      },
    };
  },
});
