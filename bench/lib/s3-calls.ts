// How many S3 requests of each kind a service made, from its own /metrics: shows which path its
// uploads took (a HEAD before each instance, or conditional PUTs only).
export async function s3CallsOf(serviceUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const calls: Record<string, number> = {};
  for (const m of text.matchAll(/^stowrs_s3_request_duration_seconds_count\{([^}]*)\} (\d+)/gm)) {
    const operation = /operation="([^"]*)"/.exec(m[1])?.[1] ?? "unknown";
    calls[operation] = (calls[operation] ?? 0) + Number(m[2]);
  }
  return calls;
}
