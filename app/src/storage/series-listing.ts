// Knowing whether a key is taken costs one HEAD per instance. A request often carries a whole
// series (hundreds of CT slices): past its first few instances, one listing of the series
// prefix answers for all the others, and a HEAD is only needed for keys that exist. A LIST costs
// about as much as a dozen HEADs (S3 pricing; on s3rver it grows with the bucket), so short
// series keep their HEADs.
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/** Instances of a series in one request checked with a HEAD each before the series is listed. */
export const HEADS_BEFORE_LISTING = 8;

/** Above this many existing objects in a series, keep asking per key. */
const MAX_LISTED_KEYS = 5_000;

export type KeyPresence = "absent" | "present" | "ask";

export class SeriesListing {
  private readonly instancesSeen = new Map<string, number>();
  private readonly listings = new Map<string, Promise<Set<string> | null>>();

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  /** "ask" means: do a HEAD for this key. */
  async presence(key: string): Promise<KeyPresence> {
    const seriesPrefix = key.slice(0, key.lastIndexOf("/") + 1);
    const seen = this.instancesSeen.get(seriesPrefix) ?? 0;
    this.instancesSeen.set(seriesPrefix, seen + 1);
    if (seen < HEADS_BEFORE_LISTING) return "ask";
    let listing = this.listings.get(seriesPrefix);
    if (!listing) {
      listing = this.list(seriesPrefix);
      this.listings.set(seriesPrefix, listing);
    }
    const keys = await listing;
    if (!keys) return "ask";
    return keys.has(key) ? "present" : "absent";
  }

  private async list(prefix: string): Promise<Set<string> | null> {
    const keys = new Set<string>();
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key) keys.add(o.Key);
        if (keys.size > MAX_LISTED_KEYS) return null;
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    } catch {
      // No s3:ListBucket, or a hiccup: fall back to a HEAD per key.
      return null;
    }
  }
}
