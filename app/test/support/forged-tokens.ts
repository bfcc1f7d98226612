// Tokens the test issuer would never issue: claim-level cases signed with the issuer's own key
// (so only the claim under test is wrong), and forgeries (unsigned, HMAC keyed with the public
// key, edited after signing, signed by a key nobody publishes).
import { exportSPKI, importJWK, SignJWT, type JWSHeaderParameters, type JWTPayload } from "jose";
import { WRITER, type SigningKey } from "./oidc-issuer.js";

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Claims like the test issuer's access tokens for the service, valid for 5 minutes from now. */
export function accessClaims(issuer: string, audience: string, extra: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: issuer, aud: audience, sub: WRITER.id, client_id: WRITER.id, scope: "dicomweb.write", iat: now, exp: now + 300, jti: `forged-${now}-${Math.random()}`, ...extra };
}

/** Signed with `key` (its kid and alg, typ at+jwt unless the header says otherwise). */
export function signToken(key: SigningKey, claims: JWTPayload, header: Partial<JWSHeaderParameters> = {}): Promise<string> {
  const protectedHeader = { alg: key.alg, kid: key.kid, typ: "at+jwt", ...header } as JWSHeaderParameters;
  for (const name of Object.keys(protectedHeader) as (keyof JWSHeaderParameters)[]) if (protectedHeader[name] === undefined) delete protectedHeader[name];
  return new SignJWT(claims).setProtectedHeader(protectedHeader as JWSHeaderParameters & { alg: string }).sign(key.privateKey);
}

/** `alg: none` with an empty signature (RFC 7519 section 6). */
export function unsignedToken(kid: string, claims: JWTPayload): string {
  return `${b64url({ alg: "none", typ: "at+jwt", kid })}.${b64url(claims)}.`;
}

/** HS256 keyed with the issuer's public key: the classic confusion attack (as PEM, or as its JWK's JSON). */
export async function hmacWithPublicKey(key: SigningKey, claims: JWTPayload, form: "pem" | "jwk" = "pem"): Promise<string> {
  const publicPem = await exportSPKI(await publicKeyOf(key));
  const secret = new TextEncoder().encode(form === "pem" ? publicPem : JSON.stringify(key.publicJwk));
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "at+jwt" }).sign(secret);
}

/** The same header and signature over an edited payload. */
export function tamperedPayload(token: string, edit: (claims: JWTPayload) => JWTPayload): string {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as JWTPayload;
  return `${header}.${b64url(edit(claims))}.${signature}`;
}

/** The claims of a token, unverified (for building variants of a real one). */
export function claimsOf(token: string): JWTPayload {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as JWTPayload;
}

async function publicKeyOf(key: SigningKey) {
  return (await importJWK(key.publicJwk, key.alg, { extractable: true })) as Parameters<typeof exportSPKI>[0];
}
