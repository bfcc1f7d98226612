// Protection against accidental deletion: of the data, and of the endpoint's address.
import { defineBlock } from "./block";

// Protected unless a stack turns it off (dev does): losing received images or the
// endpoint's address by accident costs more than an extra command before a destroy.
const defaults = {
  /** @default true */
  protectData: true,
  /** @default true */
  nlbDeletionProtection: true,
};

export const protectionBlock = defineBlock({
  keys: ["protectData", "nlbDeletionProtection"],
  defaults,
  read(r): {
    /** Pulumi `protect` on the DICOM bucket, its KMS key and the access-log bucket. @default true */
    protectData: boolean;
    /** Deletion protection on the load balancer. @default true */
    nlbDeletionProtection: boolean;
  } {
    return {
      protectData: r.flag("protectData", r.raw("protectData"), defaults.protectData),
      nlbDeletionProtection: r.flag("nlbDeletionProtection", r.raw("nlbDeletionProtection"), defaults.nlbDeletionProtection),
    };
  },
});
