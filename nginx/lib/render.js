import { spawn } from "node:child_process";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";

import { BucketError, makeS3Client, readObject } from "./bucket.js";
import { checkCrl } from "./crl.js";
import { layout } from "./layout.js";
import { renderNginxConf } from "./nginx-conf.js";
import { CertificateError, checkServerCertificate, checkTruststore } from "./pem.js";
import { makeSelfSigned } from "./self-signed.js";
import { SettingsError, readSettings } from "./settings.js";

/** A failure the operator has to fix; its message says what and where. */
class StartError extends Error {}

/**
 * @typedef {{ info(line: string): void, warn(line: string): void, error(line: string): void }} Log
 * @param {Record<string, string | undefined>} env
 * @param {Log} log
 * @returns {Promise<number>} exit code
 */
export async function render(env, log) {
  let settings;
  try {
    settings = readSettings(env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    for (const problem of error.problems) log.error(problem);
    log.error("nothing written; fix the environment and run again");
    return 2;
  }

  const paths = layout(settings.outDir);
  try {
    await mkdir(paths.outDir, { recursive: true });
    // A configuration from an earlier run must not survive a failed one.
    await removeOutput(paths);
    await mkdir(paths.tls, { recursive: true, mode: 0o700 });
    for (const dir of [paths.logs, ...Object.values(paths.temp)]) await mkdir(dir, { recursive: true, mode: 0o700 });

    const material = await obtainCertificates(settings, paths, log);
    await writeFile(paths.conf + ".new", renderNginxConf(settings, paths, material), { mode: 0o600 });
    await testConfiguration(settings, paths.conf + ".new", paths.outDir, log);
    await rename(paths.conf + ".new", paths.conf);

    log.info(
      `wrote ${paths.conf}: AUTH_MODE=${settings.authMode} CERT_MODE=${settings.certMode}, ` +
        `TLS on ${settings.listen.host}:${settings.listen.port}, health on ${settings.healthListen.host}:${settings.healthListen.port}, ` +
        `app at ${settings.upstream.host}:${settings.upstream.port}`,
    );
    return 0;
  } catch (error) {
    if (error instanceof StartError || error instanceof BucketError || error instanceof CertificateError) {
      log.error(error.message);
    } else {
      log.error(`unexpected failure: ${error?.stack ?? error}`);
    }
    await removeOutput(paths).catch(() => {});
    log.error("no nginx configuration written; nginx must not start");
    return 1;
  }
}

async function removeOutput(paths) {
  await rm(paths.conf, { force: true });
  await rm(paths.conf + ".new", { force: true });
  await rm(paths.tls, { recursive: true, force: true });
}

/**
 * Puts certificate.crt, certificate.key and (client certificates) truststore.crt and crl.pem
 * into OUT_DIR/tls after checking them.
 * @returns {Promise<{ selfSigned: boolean, crl: boolean }>}
 */
async function obtainCertificates(settings, paths, log) {
  let serverCertificate = null;
  let serverKey = null;
  let truststore = null;
  let crl = null;
  let crlWhere = "crl.pem";

  if (settings.certMode === "FROMS3") {
    const bucket = /** @type {string} */ (settings.certBucket);
    const where = (name) => `s3://${bucket}/${settings.certPrefix}${name}`;
    const client = makeS3Client(settings.s3);
    try {
      const read = (name) => readObject(client, bucket, settings.certPrefix + name).catch(regionHint);
      [serverCertificate, serverKey, truststore, crl] = await Promise.all([
        read("certificate.crt"),
        read("certificate.key"),
        settings.clientCertificates ? read("truststore.crt") : Promise.resolve(null),
        settings.clientCertificates ? read("crl.pem") : Promise.resolve(null),
      ]);
    } finally {
      client.destroy();
    }
    if (settings.clientCertificates && truststore === null) {
      throw new StartError(
        `AUTH_MODE=${settings.authMode} but ${where("truststore.crt")} does not exist; ` +
          "refusing to start without client-certificate checks (upload the CA certificates that sign client certificates there)",
      );
    }
    crlWhere = where("crl.pem");
    if (settings.crlRequired && crl === null) {
      throw new StartError(
        `CRL_REQUIRED=true but ${crlWhere} does not exist; refusing to start without revocation checks ` +
          "(upload the PEM CRLs of the CAs in truststore.crt there)",
      );
    }
    if ((serverCertificate === null) !== (serverKey === null)) {
      const missing = serverCertificate === null ? "certificate.crt" : "certificate.key";
      const present = serverCertificate === null ? "certificate.key" : "certificate.crt";
      throw new StartError(`${where(missing)} does not exist but ${where(present)} does; upload both or neither`);
    }
    if (serverCertificate === null) {
      log.warn(
        `no certificate.crt/certificate.key under s3://${bucket}/${settings.certPrefix}: ` +
          "serving a self-signed certificate made now; clients will not trust it unless told to",
      );
    }
  } else {
    log.warn(
      "CERT_MODE=ACM: clients' TLS ends at the load balancer with the ACM certificate; " +
        "nginx uses a self-signed certificate made now for the load balancer's connection to the task",
    );
  }

  const selfSigned = serverCertificate === null;
  if (selfSigned) {
    await makeSelfSigned(paths.certificate, paths.key);
    serverCertificate = await readFile(paths.certificate);
    serverKey = await readFile(paths.key);
    await chmod(paths.key, 0o600);
  } else {
    await writeFile(paths.key, /** @type {Buffer} */ (serverKey), { mode: 0o600 });
    await writeFile(paths.certificate, /** @type {Buffer} */ (serverCertificate), { mode: 0o644 });
  }
  const server = checkServerCertificate(/** @type {Buffer} */ (serverCertificate), /** @type {Buffer} */ (serverKey));
  server.warnings.forEach((w) => log.warn(w));
  log.info(`server certificate "${server.subject}", valid to ${server.validTo}`);

  if (settings.clientCertificates) {
    const trusted = checkTruststore(/** @type {Buffer} */ (truststore));
    trusted.warnings.forEach((w) => log.warn(w));
    await writeFile(paths.truststore, /** @type {Buffer} */ (truststore), { mode: 0o644 });
    log.info(`client certificates must be signed by: ${trusted.subjects.map((s) => `"${s}"`).join("; ")}`);
    if (crl !== null) {
      await installCrl(crl, crlWhere, paths, log);
    } else {
      log.info(`no ${crlWhere}: client certificates are not checked for revocation (CRL_REQUIRED=true would require one)`);
    }
    if (settings.allowedClientSubjects.length > 0) {
      log.info(`only these client certificate subjects may send (ALLOWED_CLIENT_SUBJECTS): ${settings.allowedClientSubjects.map((s) => `"${s}"`).join("; ")}`);
    }
  }
  return { selfSigned, crl: settings.clientCertificates && crl !== null };
}

/** Checks crl.pem against the truststore already written, then writes it for ssl_crl. */
async function installCrl(crl, where, paths, log) {
  // Present but unusable (CertificateError): the operator meant to revoke something, so nothing starts.
  const check = await checkCrl(crl, paths.truststore, { name: where });
  check.warnings.forEach((w) => log.warn(w));
  check.errors.forEach((e) => log.error(e));
  for (const c of check.crls) {
    log.info(
      `revocation: CRL of "${c.issuer}" with ${c.revoked} revoked certificate(s), issued ${c.lastUpdate.toISOString()}, ` +
        `next update ${c.nextUpdate ? c.nextUpdate.toISOString() : "none given"}`,
    );
  }
  await writeFile(paths.crl, crl, { mode: 0o644 });
}

/** @returns {never} */
function regionHint(error) {
  if (/region is missing/i.test(String(error?.message))) {
    throw new StartError("CERT_MODE=FROMS3 needs AWS_REGION (the region of CERT_BUCKET)");
  }
  if (error instanceof BucketError) throw error;
  const message = String(error?.message ?? error).split("\n")[0];
  if (/credential/i.test(message)) throw new StartError(`no AWS credentials to read CERT_BUCKET: ${message}`);
  throw error;
}

/** nginx -t catches what Node cannot, e.g. a curve or cipher this OpenSSL lacks. */
async function testConfiguration(settings, conf, prefix, log) {
  // stdout is inherited because nginx opens the access log (/dev/stdout by
  // default) while testing, and that only works on the real stdout.
  const child = spawn(settings.nginxBin, ["-t", "-q", "-p", prefix, "-c", conf, "-e", "stderr"], {
    stdio: ["ignore", "inherit", "pipe"],
    timeout: 30_000,
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
  const outcome = await new Promise((resolve) => {
    child.once("error", (error) => resolve({ error }));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  if (outcome.error?.code === "ENOENT") {
    log.warn(`"${settings.nginxBin}" not found, so the configuration was not checked with nginx -t`);
    return;
  }
  if (outcome.error || outcome.code !== 0) {
    const why = stderr.trim() || String(outcome.error?.message ?? `exit ${outcome.code ?? outcome.signal}`);
    throw new StartError(`nginx -t rejected the rendered configuration:\n${why}`);
  }
}
