// Knowing whether a key is taken costs one HEAD per instance. A request usually carries many
// instances of one series, so from the second instance of a series on, one listing of the
// series prefix answers for all the others: a HEAD is then only needed for keys that exist.
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

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
    // A lone instance costs a HEAD, not a listing.
    if (seen === 0) return "ask";
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
