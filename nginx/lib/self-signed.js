// A throwaway server certificate made when the container starts, so no
// private key is ever part of the image.
import { execFile } from "node:child_process";
import { hostname } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * @param {string} certificatePath
 * @param {string} keyPath
 */
export async function makeSelfSigned(certificatePath, keyPath) {
  const names = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"];
  const host = hostname();
  if (/^[A-Za-z0-9.-]{1,253}$/.test(host) && host !== "localhost") names.unshift(`DNS:${host}`);
  try {
    await run(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", keyPath, "-out", certificatePath, "-days", "365",
        "-subj", "/CN=stowrs-to-s3 front (self-signed)",
        "-addext", `subjectAltName=${names.join(",")}`,
        "-addext", "extendedKeyUsage=serverAuth",
      ],
      { timeout: 30_000 },
    );
  } catch (error) {
    const detail = error.code === "ENOENT" ? "openssl is not installed" : String(error.stderr || error.message).trim();
    throw new Error(`could not make a self-signed certificate: ${detail}`);
  }
}
