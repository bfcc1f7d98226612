// front: what the nginx front enforces per client, beyond TLS and authentication.
import { defineBlock } from "./block";

export interface FrontConfig {
  /**
   * MAX_CONNECTIONS_PER_CLIENT: requests one client may have in progress through the front at
   * once, counted by client certificate subject with client certificates, else by address;
   * 0 = no limit. A handful of slow senders then cannot hold every upload slot. @default 32
   */
  maxConnectionsPerClient: number;
}

/** Same default and range as nginx/lib/settings.js reads MAX_CONNECTIONS_PER_CLIENT with. */
export const MAX_CONNECTIONS_PER_CLIENT_RANGE = { default: 32, min: 0, max: 65535 } as const;

const defaults = {
  front: { maxConnectionsPerClient: MAX_CONNECTIONS_PER_CLIENT_RANGE.default as number },
};

export const frontBlock = defineBlock({
  keys: ["front"],
  defaults,
  read(r): { front: FrontConfig } {
    const key = "front";
    const fields = r.object(key, r.raw(key), `{ maxConnectionsPerClient: 32 }`) ?? {};
    r.unknownFields(key, fields, ["maxConnectionsPerClient"]);
    const { min, max } = MAX_CONNECTIONS_PER_CLIENT_RANGE;
    return { front: { maxConnectionsPerClient: r.integer(key, "maxConnectionsPerClient", fields.maxConnectionsPerClient, defaults.front.maxConnectionsPerClient, min, max) } };
  },
});
