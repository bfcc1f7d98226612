// S3 allows at most 10 tags on an object, while a stack may carry up to 50 default tags
// (`deployment` plus 49 from `tags`) and the provider puts its default tags on every
// object it writes. A PutObject with more is refused (InvalidTag), which would fail the
// first `pulumi up` at the certificate objects.
//
// Trimmed rather than capped: refusing an 11th tag in config would hold every other
// resource (which takes 50) to the limit of three small objects. The objects keep
// `deployment` and the first configured tags in the order the stack file lists them; the
// rest are named in a warning, so nothing is dropped silently.

/** S3's limit on tags per object. */
export const S3_OBJECT_TAG_LIMIT = 10;

export interface ObjectTags {
  /** At most S3_OBJECT_TAG_LIMIT tags, `deployment` always among them. */
  kept: Record<string, string>;
  /** Keys of the deployment's tags the objects do not carry, in config order. */
  dropped: string[];
}

export function objectTags(deploymentTags: Record<string, string>): ObjectTags {
  const { deployment, ...rest } = deploymentTags;
  const kept: Record<string, string> = deployment === undefined ? {} : { deployment };
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(rest)) {
    if (Object.keys(kept).length < S3_OBJECT_TAG_LIMIT) kept[key] = value;
    else dropped.push(key);
  }
  return { kept, dropped };
}
