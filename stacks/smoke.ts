// npm run smoke -- <stack> [--outputs outputs.json] [--client-cert <pem> --client-key <pem>] [--token-file <file>] [--ca <pem>]
//
// The last step of a deployment: sends the dcm-samples to the deployed serviceUrl and checks
// each object in the DICOM bucket (size, and the sha256 the service recorded). Reads the
// stack's outputs with `pulumi stack output --json` unless --outputs names a file. S3 is
// reached with the standard AWS credential chain (S3_ENDPOINT and S3_FORCE_PATH_STYLE point
// it at an S3-compatible store instead, as for the service).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { GetObjectTaggingCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { objectKey } from "../app/src/storage/object-key";
import { takeOption } from "./cli-options";
import { loadSamples } from "./smoke/samples";
import { storeInstances, type ClientTls } from "./smoke/stow-client";

const USAGE =
  "usage: npm run smoke -- <stack> [--outputs <outputs.json>] [--client-cert <pem> --client-key <pem>] [--token-file <file>] [--ca <pem>] [--server-name <host>]";

export interface SmokeOptions {
  stack: string;
  cwd: string;
  outputsFile?: string;
  clientCert?: string;
  clientKey?: string;
  /** A file holding an access token (authMode oidc or clientauth+oidc); a file, so the token stays out of process lists. */
  tokenFile?: string;
  ca?: string;
  serverName?: string;
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
}

class Broken extends Error {}

export async function smoke(o: SmokeOptions): Promise<{ code: number; summary: string }> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const env = o.env ?? process.env;
  let s3: S3Client | undefined;
  try {
    const outputs = readOutputs(o);
    for (const key of ["serviceUrl", "dicomBucketName", "authMode"]) {
      if (typeof outputs[key] !== "string") throw new Broken(`the stack outputs have no ${key}`);
    }
    const serviceUrl = String(outputs.serviceUrl);
    const bucket = String(outputs.dicomBucketName);
    // The stack writes the prefix without outer slashes, as the service is given it; an outputs
    // file written by hand may have them.
    const prefix = typeof outputs.dicomPrefix === "string" ? outputs.dicomPrefix.replace(/^\/+|\/+$/g, "") : "";
    const tls: ClientTls = { serverName: o.serverName };
    if (o.ca) {
      tls.ca = fs.readFileSync(path.resolve(o.cwd, o.ca), "utf8");
      log(`tls: server certificate checked against ${o.ca}`);
    } else if (typeof outputs.serverCertificate === "string" && outputs.serverCertificate.includes("BEGIN CERTIFICATE")) {
      tls.pinnedCertificate = outputs.serverCertificate;
      log("tls: server certificate must be the stack's own (output serverCertificate)");
    } else {
      log("tls: server certificate checked against the system's CAs");
    }
    const authMode = String(outputs.authMode);
    if (authMode === "clientauth" || authMode === "clientauth+oidc") {
      if (!o.clientCert || !o.clientKey) throw new Broken(`the stack uses ${authMode}: give --client-cert and --client-key`);
      tls.cert = fs.readFileSync(path.resolve(o.cwd, o.clientCert), "utf8");
      tls.key = fs.readFileSync(path.resolve(o.cwd, o.clientKey), "utf8");
    }
    if (authMode === "oidc" || authMode === "clientauth+oidc") {
      if (!o.tokenFile) throw new Broken(`the stack uses ${authMode}: give --token-file, a file holding an access token from the stack's issuer with the required scope`);
      tls.bearerToken = fs.readFileSync(path.resolve(o.cwd, o.tokenFile), "utf8").trim();
      log(`auth: bearer token from ${o.tokenFile}`);
    }

    const samples = loadSamples();
    let answer;
    try {
      answer = await storeInstances(serviceUrl, samples, tls);
    } catch (err) {
      throw new Broken(`POST ${serviceUrl}/studies failed: ${(err as Error).message}`);
    }
    if (answer.nameWarning) throw new Broken(`the server certificate does not cover the name used: ${answer.nameWarning}`);
    if (answer.status !== 200) throw new Broken(`POST ${serviceUrl}/studies answered HTTP ${answer.status}: ${answer.body.trim().slice(0, 300)}`);
    log(`stow: POST ${serviceUrl}/studies: HTTP 200, ${answer.stored.length} referenced, ${answer.failed.length} failed`);

    s3 = new S3Client({
      endpoint: env.S3_ENDPOINT || undefined,
      forcePathStyle: /^(1|true|yes)$/i.test(env.S3_FORCE_PATH_STYLE ?? ""),
      // The stack's region when the environment names none (the bucket is there).
      region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (typeof outputs.region === "string" ? outputs.region : undefined),
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    let verified = 0;
    for (const sample of samples) {
      const name = path.basename(sample.file);
      if (!answer.stored.includes(sample.sopInstanceUid)) throw new Broken(`${name} (${sample.sopInstanceUid}) was not acknowledged as stored`);
      // Where the deployed service puts it, by the service's own rule: the smoke checks a
      // deployment, not the key layout (the tests do that against their own statement of it).
      const key = objectKey(prefix, sample);
      let head;
      try {
        head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      } catch (err) {
        throw new Broken(`${name} acknowledged, but s3://${bucket}/${key} cannot be read: ${(err as Error).name}: ${(err as Error).message}`);
      }
      if (head.ContentLength !== sample.bytes.length) {
        throw new Broken(`s3://${bucket}/${key} holds ${head.ContentLength} bytes, ${name} has ${sample.bytes.length}`);
      }
      // Single-PUT instances carry sha256 as metadata, multipart ones as a tag (README, "Configuration").
      let sha256 = head.Metadata?.sha256;
      if (!sha256) {
        const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
        sha256 = tags.TagSet?.find((t) => t.Key === "sha256")?.Value;
      }
      if (sha256 !== sample.sha256) throw new Broken(`s3://${bucket}/${key} records sha256 ${sha256 ?? "(none)"}, ${name} has ${sample.sha256}`);
      verified += 1;
    }
    const where = `s3://${bucket}/${prefix === "" ? "" : `${prefix}/`}`;
    const summary = `smoke ${o.stack}: ${verified}/${samples.length} instances stored through ${serviceUrl} and verified in ${where} (size, sha256)`;
    log(summary);
    return { code: 0, summary };
  } catch (err) {
    const summary = `smoke ${o.stack}: FAILED: ${err instanceof Broken ? err.message : (err as Error)?.stack ?? String(err)}`;
    log(summary);
    return { code: 1, summary };
  } finally {
    s3?.destroy();
  }
}

function readOutputs(o: SmokeOptions): Record<string, unknown> {
  let text: string;
  if (o.outputsFile) {
    text = fs.readFileSync(path.resolve(o.cwd, o.outputsFile), "utf8");
  } else {
    try {
      text = execFileSync("pulumi", ["stack", "output", "--json", "--stack", o.stack], { cwd: path.resolve(__dirname, ".."), encoding: "utf8" });
    } catch (err) {
      throw new Broken(`pulumi stack output --json --stack ${o.stack} failed: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Broken("the stack outputs are not JSON");
  }
}

export function parseArgs(argv: string[]): SmokeOptions | undefined {
  const args = [...argv];
  const take = (name: string) => takeOption(args, name);
  const options = {
    outputsFile: take("--outputs"),
    clientCert: take("--client-cert"),
    clientKey: take("--client-key"),
    tokenFile: take("--token-file"),
    ca: take("--ca"),
    serverName: take("--server-name"),
  };
  if (args.length !== 1 || args[0].startsWith("--") || (options.clientCert === undefined) !== (options.clientKey === undefined)) return undefined;
  return { stack: args[0], cwd: process.env.INIT_CWD ?? process.cwd(), ...options };
}

if (require.main === module) {
  const options = parseArgs(process.argv.slice(2));
  if (!options) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  smoke(options).then(({ code }) => process.stdout.write("", () => process.exit(code)));
}
