// Knowing whether a key is taken costs one request per instance: a HEAD, where the store does not
// honour conditional writes. A request often carries a whole series (hundreds of CT slices): past
// its first few instances, one listing of the series prefix answers for all the others, and a
// HEAD is only needed for keys that exist. With conditional writes a new instance needs no request
// at all, so the listing only pays off for long series sent again (it spares re-uploading their
// bytes to have the write refused); there the first HEADS_BEFORE_LISTING.conditional instances
// go without it.
//
// A listing is a snapshot: it cannot show what this request writes after it was taken. An
// instance sent twice in one request would find its key "absent" the second time and, without a
// condition to stop the write (HEAD path, or a multipart upload), replace the first copy even
// under DUPLICATE_POLICY=reject. So a key is claimed when it is first asked about, before anything
// is written to it, and a listing never answers "absent" for a claimed key: it is checked with a
// HEAD (or a conditional write) like any key the listing does not cover. The request uploads a
// second copy only after the first has finished (store-instances.ts), so that check sees it.
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/** Instances of a series in one request checked one by one before the series is listed. */
export const HEADS_BEFORE_LISTING = { headFirst: 2, conditional: 8 } as const;

/** Above this many existing objects in a series, keep asking per key. */
const MAX_LISTED_KEYS = 5_000;

export type KeyPresence = "absent" | "present" | "ask";

export class SeriesListing {
  private readonly instancesSeen = new Map<string, number>();
  /** Keys an upload of this request has asked about: they may have been written since any listing. */
  private readonly claimed = new Set<string>();
  private readonly listings = new Map<string, Promise<Set<string> | null>>();

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly askFirst: number = HEADS_BEFORE_LISTING.headFirst,
  ) {}

  /** "ask" means: do a HEAD for this key. */
  async presence(key: string): Promise<KeyPresence> {
    const askedBefore = this.claimed.has(key);
    this.claimed.add(key);
    const seriesPrefix = key.slice(0, key.lastIndexOf("/") + 1);
    const seen = this.instancesSeen.get(seriesPrefix) ?? 0;
    this.instancesSeen.set(seriesPrefix, seen + 1);
    if (seen < this.askFirst) return "ask";
    let listing = this.listings.get(seriesPrefix);
    if (!listing) {
      listing = this.list(seriesPrefix);
      this.listings.set(seriesPrefix, listing);
    }
    const keys = await listing;
    if (!keys) return "ask";
    if (keys.has(key)) return "present";
    return askedBefore ? "ask" : "absent";
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
