// Values stored encrypted in a stack file (`secure:` leaves, at the top level or inside an
// object set with --path). The engine decrypts them before the program runs and names their
// top-level keys in PULUMI_CONFIG_SECRET_KEYS. The offline tools (plan, snapshots, policy runs)
// never decrypt: they hand the program this text in place of each secret, which is also how
// every printed form of the plan shows one.
export const OPAQUE_SECRET = "[secret]";
