// Checks certificate material before nginx sees it, so a bad file is named
// in one clear message instead of an OpenSSL error deep in nginx's log.
import { X509Certificate, createPrivateKey } from "node:crypto";

export class CertificateError extends Error {
  constructor(message) {
    super(message);
    this.name = "CertificateError";
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** @param {Buffer | string} data */
function pemBlocks(data) {
  const text = Buffer.isBuffer(data) ? data.toString("latin1") : data;
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1], text: m[0] }));
}

/**
 * @param {Buffer} data
 * @param {string} name file name used in messages
 * @returns {X509Certificate[]}
 */
function certificates(data, name) {
  const blocks = pemBlocks(data);
  const keys = blocks.filter((b) => b.type.includes("PRIVATE KEY"));
  if (keys.length > 0) throw new CertificateError(`${name} contains a private key; it must hold certificates only`);
  const certs = blocks.filter((b) => b.type === "CERTIFICATE");
  if (certs.length === 0) {
    throw new CertificateError(`${name} holds no PEM certificate (expected "-----BEGIN CERTIFICATE-----" blocks)`);
  }
  return certs.map((block, index) => {
    try {
      return new X509Certificate(block.text);
    } catch (error) {
      throw new CertificateError(`${name}: certificate #${index + 1} cannot be parsed (${error.message})`);
    }
  });
}

/**
 * Server certificate (leaf first, then any intermediates) and its key.
 * @param {Buffer} certificatePem
 * @param {Buffer} keyPem
 * @returns {{ subject: string, validTo: string, warnings: string[] }}
 */
export function checkServerCertificate(certificatePem, keyPem, now = new Date()) {
  const chain = certificates(certificatePem, "certificate.crt");
  let key;
  try {
    key = createPrivateKey({ key: keyPem, format: "pem" });
  } catch (error) {
    const encrypted = /passphrase|encrypted/i.test(String(error.message)) || keyPem.toString("latin1").includes("ENCRYPTED");
    throw new CertificateError(
      encrypted
        ? "certificate.key is encrypted; nginx cannot prompt for a passphrase, so store it unencrypted (and protect the bucket)"
        : `certificate.key is not a PEM private key (${error.message})`,
    );
  }
  const leaf = chain[0];
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificateError(
      "certificate.key does not belong to the first certificate in certificate.crt (the server certificate must come first)",
    );
  }
  const warnings = [];
  if (new Date(leaf.validTo) < now) warnings.push(`certificate.crt expired on ${leaf.validTo}; clients will reject it`);
  for (let i = 1; i < chain.length; i += 1) {
    if (!chain[i - 1].checkIssued(chain[i])) {
      warnings.push(`certificate.crt: certificate #${i + 1} did not issue #${i}; clients may not build the chain`);
    }
  }
  return { subject: leaf.subject.replaceAll("\n", ", "), validTo: leaf.validTo, warnings };
}

/**
 * CA certificates trusted to sign client certificates.
 * @param {Buffer} truststorePem
 * @returns {{ subjects: string[], warnings: string[] }}
 */
export function checkTruststore(truststorePem) {
  const cas = certificates(truststorePem, "truststore.crt");
  const warnings = cas
    .filter((c) => !c.ca)
    .map((c) => `truststore.crt: "${c.subject.replaceAll("\n", ", ")}" is not a CA certificate`);
  return { subjects: cas.map((c) => c.subject.replaceAll("\n", ", ")), warnings };
}
