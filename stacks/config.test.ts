import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makePki } from "../nginx/testing/pki";
import { MAX_INSTANCES_IN_FLIGHT, UPLOAD_INSTANCE_CONCURRENCY, UPLOAD_PART_CONCURRENCY, UPLOAD_PART_SIZE_MIB } from "../app/src/config-limits";
import { parse as parseYaml } from "yaml";
import { ConfigError, DEFAULTS, OPAQUE_SECRET, parseConfig, type ParseOptions, type StackConfig } from "./config";
import { appMemoryMiB, worstCaseMiB } from "./memory-budget";
import { BASE, configMap } from "./testing/harness";

const REPO = path.resolve(__dirname, "..");
const PLACEHOLDER_CA = "stacks/examples/placeholder-client-ca.crt";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stacks-config-"));
const pki = makePki(tmp);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const opts: Partial<ParseOptions> = { projectDir: REPO };

function problemsOf(overrides: Record<string, unknown>, base = BASE, env = {}, options: Partial<ParseOptions> = opts): string[] {
  try {
    parseConfig(configMap(overrides, base), env, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected the configuration to be rejected");
}

function parsed(overrides: Record<string, unknown>, options: Partial<ParseOptions> = opts): StackConfig {
  return parseConfig(configMap(overrides), {}, { ...opts, ...options });
}

describe("parseConfig defaults", () => {
  it("fills every optional key from code, not from Pulumi.yaml", () => {
    const c = parsed({});
    expect(c).toEqual({
      region: "eu-central-1",
      appName: "stowrs-test",
      vpcCidr: "10.0.0.0/16",
      dicomBucket: "stowrs-test-dicom",
      bucketEncryption: "SSE-KMS",
      certificate: { mode: "FROMS3", authMode: "anonymous", source: "stack", bucket: "stowrs-test-certs" },
      allowedPeers: ["198.18.0.0/15"],
      fargate: { cpu: 512, memory: 1024, taskCount: 1, minTasks: 1, maxTasks: 1, drainSeconds: 60, enableExecuteCommand: false },
      app: { prefix: "", wadoUrl: "", logLevel: "INFO", responseDelay: 0, duplicatePolicy: "overwrite", bodyMinBytesPerSecond: 1024, bodyRateWindowSeconds: 60 },
      // (1024 - 256 for nginx - 160 baseline) / (5 x (2 + 2)) = 30 instances in flight.
      upload: { partSizeMiB: 5, partConcurrency: 2, instanceConcurrency: 4, maxInstancesInFlight: 30 },
      tags: {},
      images: {},
      protectData: true,
      nlbDeletionProtection: true,
      logRetentionDays: 30,
      accessLogRetentionDays: 365,
      alarms: {
        enabled: true,
        evaluationMinutes: 5,
        cpuPercent: 85,
        memoryPercent: 90,
        refusedInstancesPerMinute: 5,
        capacityRejectionsPerMinute: 10,
        s3UnavailablePerMinute: 0,
        certificateDaysLeft: 30,
      },
      lifecycle: { transitionDays: 30, storageClass: "INTELLIGENT_TIERING", noncurrentVersionExpirationDays: 90, abortIncompleteUploadDays: 7 },
      objectLock: { enabled: false, retentionDays: 90 },
      auditTrail: { enabled: true, retentionDays: 2192 },
      events: { enabled: true, retentionSeconds: 345600, maxReceiveCount: 5 },
      certificateOptions: { crlRequired: false, allowedClientSubjects: [] },
      front: { maxConnectionsPerClient: 32 },
      dataReaders: [],
      network: { interfaceEndpoints: true },
      allowWorldIngress: false,
      placeholders: [],
    });
  });

  it("uses the service's own upload defaults: one set for both", () => {
    const { upload } = parsed({});
    expect([upload.partSizeMiB, upload.partConcurrency, upload.instanceConcurrency]).toEqual([
      UPLOAD_PART_SIZE_MIB.default,
      UPLOAD_PART_CONCURRENCY.default,
      UPLOAD_INSTANCE_CONCURRENCY.default,
    ]);
    // Unset, the admission limit is the largest whose worst case fits, never above the service's default.
    const big = parsed({ fargate: { cpu: 4096, memory: 30720 } }).upload;
    expect(big.maxInstancesInFlight).toBe(MAX_INSTANCES_IN_FLIGHT.default);
    const small = parsed({ upload: { partSizeMiB: 16, partConcurrency: 4 } }).upload;
    expect(worstCaseMiB(small, small.maxInstancesInFlight)).toBeLessThanOrEqual(appMemoryMiB(1024));
    expect(worstCaseMiB(small, small.maxInstancesInFlight + 1)).toBeGreaterThan(appMemoryMiB(1024));
  });

  it("protects data and the load balancer unless a stack turns it off", () => {
    expect(parsed({}, { stack: "prod" })).toMatchObject({ protectData: true, nlbDeletionProtection: true });
    expect(parsed({ protectData: "false", nlbDeletionProtection: false })).toMatchObject({ protectData: false, nlbDeletionProtection: false });
  });

  it("has the defaults Pulumi.yaml declares, for every scalar key it declares", () => {
    const project = parseYaml(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8"));
    const declared = project.config as Record<string, { type: string; description: string; default: unknown }>;
    const c = parsed({});
    // appName is not declared: its default follows the stack name, which Pulumi.yaml cannot say.
    const scalars = ["vpcCidr", "bucketEncryption", "protectData", "nlbDeletionProtection", "logRetentionDays", "accessLogRetentionDays"];
    expect(Object.keys(declared).sort()).toEqual([...scalars].sort());
    for (const key of scalars) {
      const d = declared[key];
      expect(d.description.length, key).toBeGreaterThan(20);
      expect(d.type, key).toBe({ string: "string", boolean: "boolean", number: "integer" }[typeof d.default as string]);
      expect(d.default, key).toEqual((c as any)[key]);
      expect((DEFAULTS as Record<string, unknown>)[key], key).toEqual(d.default);
    }
  });

  it("names a stack's resources after the stack unless appName says otherwise", () => {
    const withoutName = { appName: undefined };
    expect(parseConfig(configMap(withoutName), {}, { ...opts, stack: "staging" })).toMatchObject({
      appName: "stowrs-staging",
      dicomBucket: "stowrs-staging-dicom",
      certificate: { bucket: "stowrs-staging-certs" },
    });
    expect(parseConfig(configMap({ appName: "radiology" }), {}, { ...opts, stack: "staging" }).appName).toBe("radiology");
    expect(problemsOf(withoutName, BASE, {}, { ...opts, stack: "hospital-north-production" })).toEqual([
      'stowrs-to-s3:appName: unset, and its default "stowrs-<stack>" gives "stowrs-hospital-north-production", which is longer than 20 characters: set stowrs-to-s3:appName',
    ]);
    expect(problemsOf(withoutName, BASE, {}, { ...opts, stack: "QA_1" })[0]).toMatch(/^stowrs-to-s3:appName: unset, .*"stowrs-QA_1", which may contain only/);
  });

  it("reads the truststore from PEM text or from a file relative to the project", () => {
    const fromFile = parsed({ certificate: { mode: "FROMS3", authMode: "clientauth", truststore: PLACEHOLDER_CA } }).certificate;
    expect(fromFile).toMatchObject({ source: "stack", truststore: { origin: PLACEHOLDER_CA, pem: fs.readFileSync(path.join(REPO, PLACEHOLDER_CA), "utf8") } });
    const fromText = parsed({ certificate: { mode: "FROMS3", authMode: "clientauth", truststore: pki.ca.certPem } }).certificate;
    expect(fromText).toMatchObject({ truststore: { pem: pki.ca.certPem } });
  });

  it("takes the server certificate and key from config when the key is a secret", () => {
    const c = parsed(
      { certificate: { mode: "FROMS3", serverCertificate: pki.server.certPem, serverKey: pki.server.keyPem } },
      { secretKeys: ["stowrs-to-s3:certificate"] },
    ).certificate;
    expect(c).toMatchObject({ server: { certificate: { pem: pki.server.certPem }, key: pki.server.keyPem } });
  });
});

describe("parseConfig: values stored encrypted", () => {
  // As the offline tools hand them over: OPAQUE_SECRET in place of each secure: leaf, and its path.
  const serverKeySecret = { secretKeys: ["stowrs-to-s3:certificate"], secretPaths: ["stowrs-to-s3:certificate.serverKey"] };
  const fromConfig = { mode: "FROMS3", serverCertificate: "" as string, serverKey: OPAQUE_SECRET };

  it("takes serverKey as a secret it never sees, checking the certificate alone", () => {
    const c = parsed({ certificate: { ...fromConfig, serverCertificate: pki.server.certPem } }, serverKeySecret).certificate;
    expect(c).toMatchObject({ server: { certificate: { pem: pki.server.certPem }, key: OPAQUE_SECRET } });
    // Without the paths (a caller that knows only the stand-in), the stand-in itself says "secret".
    expect(parsed({ certificate: { ...fromConfig, serverCertificate: pki.server.certPem } }).certificate).toMatchObject({ server: { key: OPAQUE_SECRET } });
    expect(problemsOf({ certificate: { ...fromConfig, serverCertificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----" } }, BASE, {}, { ...opts, ...serverKeySecret })).toEqual([
      expect.stringMatching(/^stowrs-to-s3:certificate: serverCertificate \(serverCertificate in config\) is not a PEM certificate/),
    ]);
  });

  it("refuses a plain-text serverKey with one message, even when another field of certificate is the secret", () => {
    const plain = { mode: "FROMS3", serverCertificate: pki.server.certPem, serverKey: pki.server.keyPem };
    const expected = [
      'stowrs-to-s3:certificate: serverKey must be stored encrypted: pulumi config set --secret --path stowrs-to-s3:certificate.serverKey -- "$(cat server.key)"',
    ];
    expect(problemsOf({ certificate: plain }, BASE, {}, { ...opts, secretKeys: [], secretPaths: [] })).toEqual(expected);
    expect(problemsOf({ certificate: plain }, BASE, {}, { ...opts, secretKeys: ["stowrs-to-s3:certificate"], secretPaths: ["stowrs-to-s3:certificate.truststore"] })).toEqual(expected);
    // The engine names only top-level keys; decrypted, the key is checked against the certificate.
    expect(parsed({ certificate: plain }, { secretKeys: ["stowrs-to-s3:certificate"] }).certificate).toMatchObject({ server: { key: pki.server.keyPem } });
  });

  it.each([
    ["a top-level key", { appName: OPAQUE_SECRET }, ["stowrs-to-s3:appName"], "stowrs-to-s3:appName: is stored as a secret (secure:), but the stack needs it in plain text"],
    ["a required top-level key", { allowedPeers: OPAQUE_SECRET }, ["stowrs-to-s3:allowedPeers"], "stowrs-to-s3:allowedPeers: is stored as a secret"],
    ["a field", { certificate: { mode: "FROMS3", authMode: "clientauth", truststore: OPAQUE_SECRET } }, ["stowrs-to-s3:certificate.truststore"], "stowrs-to-s3:certificate: truststore is stored as a secret"],
    ["a field others depend on", { certificate: { mode: "FROMS3", serverCertificate: OPAQUE_SECRET, serverKey: OPAQUE_SECRET } }, ["stowrs-to-s3:certificate.serverCertificate", "stowrs-to-s3:certificate.serverKey"], "stowrs-to-s3:certificate: serverCertificate is stored as a secret"],
    ["an oidc field", { certificate: { authMode: "oidc" }, oidc: { issuer: OPAQUE_SECRET, audience: "stowrs" } }, ["stowrs-to-s3:oidc.issuer"], "stowrs-to-s3:oidc: issuer is stored as a secret"],
  ])("refuses a secret where plain text is needed (%s) with one message naming the command", (_label, overrides, paths, expected) => {
    const problems = problemsOf(overrides, BASE, {}, { ...opts, secretKeys: [...new Set(paths.map((p) => p.split(".")[0]))], secretPaths: paths });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${expected.replace(/[()]/g, "\\$&")}.*: set it without --secret: pulumi config set (--path )?stowrs-to-s3:\\S+ <value>$`));
  });
});

describe("placeholders", () => {
  it("finds documentation ranges, example hosts and the placeholder CA, naming each key", () => {
    const c = parsed({
      allowedPeers: ["198.18.0.0/15", "203.0.113.16/28", "192.0.2.7/32"],
      app: { wadoUrl: "https://pacs.example.org/dicomweb" },
      certificate: { mode: "FROMS3", authMode: "clientauth", truststore: PLACEHOLDER_CA },
    });
    expect(c.placeholders.map((p) => p.key)).toEqual(["stowrs-to-s3:allowedPeers", "stowrs-to-s3:app", "stowrs-to-s3:certificate"]);
    expect(c.placeholders[0].message).toContain("203.0.113.16/28, 192.0.2.7/32");
    expect(c.placeholders[0].message).not.toContain("198.18.0.0/15");
  });

  it.each([
    ["https://pacs.example.com/wado", true],
    ["https://wado.example/x", true],
    ["http://192.0.2.10/wado", true],
    ["http://[2001:db8::1]/wado", true],
    ["https://pacs.hospital.org/wado", false],
    ["https://example.org.hospital.net/wado", false],
  ])("wadoUrl %s is a placeholder: %s", (url, expected) => {
    expect(parsed({ app: { wadoUrl: url } }).placeholders.length > 0).toBe(expected);
  });

  it("leaves real values alone", () => {
    expect(parsed({ allowedPeers: ["81.2.69.0/24"], certificate: { mode: "FROMS3", authMode: "clientauth", truststore: pki.ca.certPem } }).placeholders).toEqual([]);
  });

  it("takes the region from the environment when aws:region is unset", () => {
    const c = parseConfig(configMap({ "aws:region": undefined }), { AWS_REGION: "us-west-2" });
    expect(c.region).toBe("us-west-2");
  });

  it("accepts numbers typed as text, as `pulumi config set --path` stores them", () => {
    const c = parsed({ fargate: { cpu: "1024", memory: "2048", taskCount: "2" }, upload: { partConcurrency: "8" } });
    expect(c.fargate).toMatchObject({ cpu: 1024, memory: 2048, taskCount: 2, minTasks: 2, maxTasks: 2 });
    expect(c.upload.partConcurrency).toBe(8);
  });

  it("accepts a comma-separated peer list typed on the command line", () => {
    expect(parsed({ allowedPeers: "203.0.113.0/24, 198.51.100.7/32" }).allowedPeers).toEqual([
      "203.0.113.0/24",
      "198.51.100.7/32",
    ]);
  });
});

const OIDC = { issuer: "https://idp.hospital.test/realms/imaging", audience: "stowrs" };

describe("parseConfig: bearer tokens", () => {
  it("reads the oidc block with the app's defaults for scope and algorithms", () => {
    const c = parsed({ certificate: { mode: "FROMS3", authMode: "oidc" }, oidc: OIDC });
    expect(c.certificate.authMode).toBe("oidc");
    expect(c.oidc).toEqual({ ...OIDC, requiredScope: "dicomweb.write", algorithms: ["RS256", "PS256", "ES256"] });
    expect(c.placeholders).toEqual([]);
  });

  it("takes clientauth+oidc with a truststore, and oidc with ACM (the token passes the NLB's TLS)", () => {
    const both = parsed({ certificate: { mode: "FROMS3", authMode: "clientauth+oidc", truststore: PLACEHOLDER_CA }, oidc: { ...OIDC, requiredScope: "api://stowrs/dicomweb.write", algorithms: "ES256" } });
    expect(both.certificate).toMatchObject({ authMode: "clientauth+oidc", truststore: { origin: PLACEHOLDER_CA } });
    expect(both.oidc).toMatchObject({ requiredScope: "api://stowrs/dicomweb.write", algorithms: ["ES256"] });
    const acm = parsed({ certificate: { mode: "ACM", authMode: "oidc", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/abc" }, oidc: OIDC });
    expect(acm.certificate).toMatchObject({ mode: "ACM", authMode: "oidc" });
  });

  it("warns about an example issuer as a placeholder", () => {
    const c = parsed({ certificate: { authMode: "oidc" }, oidc: { ...OIDC, issuer: "https://idp.example.org/realms/x" } });
    expect(c.placeholders).toEqual([{ key: "stowrs-to-s3:oidc", message: expect.stringContaining("https://idp.example.org/realms/x names an example") }]);
  });
});

describe("parseConfig rules", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["appName too long", { appName: "a-very-long-application-name" }, "stowrs-to-s3:appName: must be 1 to 20 characters"],
    ["appName characters", { appName: "Stow_RS" }, "stowrs-to-s3:appName: \"Stow_RS\" may contain only"],
    ["appName leading hyphen", { appName: "-stow" }, "stowrs-to-s3:appName:"],
    ["vpcCidr malformed", { vpcCidr: "10.0.0/16" }, "stowrs-to-s3:vpcCidr: \"10.0.0/16\" is not an IPv4 CIDR"],
    ["vpcCidr octet over 255", { vpcCidr: "10.300.0.0/16" }, "stowrs-to-s3:vpcCidr: \"10.300.0.0/16\" is not an IPv4 CIDR"],
    ["vpcCidr host bits", { vpcCidr: "10.0.1.0/16" }, "stowrs-to-s3:vpcCidr: \"10.0.1.0/16\" has host bits set; did you mean 10.0.0.0/16?"],
    ["vpcCidr too small", { vpcCidr: "10.0.0.0/26" }, "stowrs-to-s3:vpcCidr: prefix length must be between /16 and /24"],
    ["dicomBucket characters", { dicomBucket: "My_Bucket" }, "stowrs-to-s3:dicomBucket: \"My_Bucket\" is not a valid S3 bucket name prefix"],
    ["dicomBucket length", { dicomBucket: "d".repeat(38) }, "stowrs-to-s3:dicomBucket: must be 1 to 37 characters"],
    ["bucketEncryption", { bucketEncryption: "KMS" }, "stowrs-to-s3:bucketEncryption: must be one of SSE-KMS, SSE-S3"],
    ["certificate clientauth with ACM", { certificate: { mode: "ACM", authMode: "clientauth", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/abc-123" } }, "stowrs-to-s3:certificate: clientauth needs mode FROMS3"],
    ["certificate ACM without arn", { certificate: { mode: "ACM", authMode: "anonymous" } }, "stowrs-to-s3:certificate: mode ACM needs arn"],
    ["certificate malformed arn", { certificate: { mode: "ACM", arn: "arn:aws:iam::123456789012:role/x" } }, "stowrs-to-s3:certificate: arn \"arn:aws:iam::123456789012:role/x\" is not an ACM certificate ARN"],
    ["certificate arn in another region", { certificate: { mode: "ACM", arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc" } }, "stowrs-to-s3:certificate: arn is in us-east-1 but the stack deploys to eu-central-1"],
    ["certificate arn with FROMS3", { certificate: { mode: "FROMS3", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/abc" } }, "stowrs-to-s3:certificate: arn is only used with mode ACM"],
    ["certificate bucket with ACM", { certificate: { mode: "ACM", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/abc", bucket: "certs" } }, "stowrs-to-s3:certificate: bucket is only used with mode FROMS3"],
    ["certificate mode", { certificate: { mode: "acm" } }, "stowrs-to-s3:certificate: mode must be one of ACM, FROMS3, got \"acm\""],
    ["certificate authMode", { certificate: { mode: "FROMS3", authMode: "mtls" } }, "stowrs-to-s3:certificate: authMode must be one of anonymous, clientauth, oidc, clientauth+oidc"],
    ["certificate clientauth+oidc with ACM", { certificate: { mode: "ACM", authMode: "clientauth+oidc", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/abc-123" }, oidc: OIDC }, "stowrs-to-s3:certificate: clientauth+oidc needs mode FROMS3"],
    ["certificate clientauth+oidc without truststore", { certificate: { mode: "FROMS3", authMode: "clientauth+oidc" }, oidc: OIDC }, "stowrs-to-s3:certificate: clientauth+oidc needs a truststore source"],
    ["oidc missing with authMode oidc", { certificate: { authMode: "oidc" } }, "stowrs-to-s3:oidc: required with certificate.authMode oidc"],
    ["oidc without authMode oidc", { oidc: OIDC }, "stowrs-to-s3:oidc: only used with certificate.authMode oidc or clientauth+oidc (the stack's is anonymous)"],
    ["oidc not an object", { certificate: { authMode: "oidc" }, oidc: "https://idp.hospital.test" }, "stowrs-to-s3:oidc: expected an object like"],
    ["oidc issuer missing", { certificate: { authMode: "oidc" }, oidc: { audience: "stowrs" } }, "stowrs-to-s3:oidc: issuer is required"],
    ["oidc issuer http", { certificate: { authMode: "oidc" }, oidc: { ...OIDC, issuer: "http://idp.hospital.test" } }, "stowrs-to-s3:oidc: issuer \"http://idp.hospital.test\" must be an https:// URL"],
    ["oidc issuer loopback", { certificate: { authMode: "oidc" }, oidc: { ...OIDC, issuer: "http://127.0.0.1:8080" } }, "stowrs-to-s3:oidc: issuer \"http://127.0.0.1:8080\" must be https:// in a stack"],
    ["oidc issuer port", { certificate: { authMode: "oidc" }, oidc: { ...OIDC, issuer: "https://idp.hospital.test:8443/realms/x" } }, "stowrs-to-s3:oidc: issuer \"https://idp.hospital.test:8443/realms/x\" uses port 8443; the tasks may reach out on 443 only"],
    ["oidc issuer query", { certificate: { authMode: "oidc" }, oidc: { ...OIDC, issuer: "https://idp.hospital.test/?x=1" } }, "stowrs-to-s3:oidc: issuer \"https://idp.hospital.test/?x=1\" must not carry a query"],
    ["oidc audience missing", { certificate: { authMode: "oidc" }, oidc: { issuer: OIDC.issuer } }, "stowrs-to-s3:oidc: audience is required"],
    ["oidc scope with a space", { certificate: { authMode: "oidc" }, oidc: { ...OIDC, requiredScope: "a b" } }, "stowrs-to-s3:oidc: requiredScope \"a b\" is not a single OAuth scope"],
    ["oidc HMAC algorithm", { certificate: { authMode: "oidc" }, oidc: { ...OIDC, algorithms: ["RS256", "HS256"] } }, "stowrs-to-s3:oidc: algorithms: HS256 is refused"],
    ["oidc algorithms not a list", { certificate: { authMode: "oidc" }, oidc: { ...OIDC, algorithms: { RS256: true } } }, "stowrs-to-s3:oidc: algorithms must be a list"],
    ["oidc unknown field", { certificate: { authMode: "oidc" }, oidc: { ...OIDC, scope: "x" } }, "stowrs-to-s3:oidc: unknown field \"scope\""],
    ["certificate unknown field", { certificate: { mode: "FROMS3", mdoe: "x" } }, "stowrs-to-s3:certificate: unknown field \"mdoe\""],
    ["certificate not an object", { certificate: "ACM" }, "stowrs-to-s3:certificate: expected an object"],
    ["allowedPeers missing", { allowedPeers: undefined }, "stowrs-to-s3:allowedPeers: required"],
    ["allowedPeers empty", { allowedPeers: [] }, "stowrs-to-s3:allowedPeers: must list at least one CIDR"],
    ["allowedPeers malformed", { allowedPeers: ["203.0.113.0/24", "example.org"] }, "stowrs-to-s3:allowedPeers: \"example.org\" is not an IPv4 CIDR"],
    ["allowedPeers prefix over 32", { allowedPeers: ["203.0.113.7/33"] }, "stowrs-to-s3:allowedPeers: \"203.0.113.7/33\" has a prefix length over 32"],
    ["allowedPeers duplicate", { allowedPeers: ["203.0.113.0/24", "203.0.113.0/24"] }, "stowrs-to-s3:allowedPeers: 203.0.113.0/24 is listed twice"],
    ["fargate pair", { fargate: { cpu: 512, memory: 512 } }, "stowrs-to-s3:fargate: cpu 512 with memory 512 is not a Fargate size"],
    ["fargate cpu", { fargate: { cpu: 300, memory: 1024 } }, "stowrs-to-s3:fargate: cpu 300 with memory 1024 is not a Fargate size; valid pairs: cpu must be one of"],
    ["fargate counts", { fargate: { taskCount: 1, minTasks: 2, maxTasks: 4 } }, "stowrs-to-s3:fargate: needs minTasks <= taskCount <= maxTasks, got 2 <= 1 <= 4"],
    ["fargate whole numbers", { fargate: { taskCount: 1.5 } }, "stowrs-to-s3:fargate: taskCount must be a whole number"],
    ["app logLevel", { app: { logLevel: "VERBOSE" } }, "stowrs-to-s3:app: logLevel must be one of ERROR, WARNING, INFO, DEBUG, CRITICAL"],
    ["app wadoUrl", { app: { wadoUrl: "pacs.example.org" } }, "stowrs-to-s3:app: wadoUrl \"pacs.example.org\" is not an http(s) URL"],
    ["app responseDelay", { app: { responseDelay: -1 } }, "stowrs-to-s3:app: responseDelay must be seconds between 0 and 600"],
    ["app prefix dot segment", { app: { prefix: "a/../b" } }, "stowrs-to-s3:app: prefix \"a/../b\" must not contain"],
    ["app prefix wildcard", { app: { prefix: "dicom*" } }, "stowrs-to-s3:app: prefix \"dicom*\" must be at most 512 characters without"],
    ["upload part size", { upload: { partSizeMiB: 4 } }, "stowrs-to-s3:upload: partSizeMiB must be between 5 and 5120, got 4"],
    ["upload part concurrency", { upload: { partConcurrency: 0 } }, "stowrs-to-s3:upload: partConcurrency must be between 1 and 64, got 0"],
    ["upload instance concurrency", { upload: { instanceConcurrency: 1000 } }, "stowrs-to-s3:upload: instanceConcurrency must be between 1 and 256"],
    ["upload unknown field", { upload: { partSize: 8 } }, "stowrs-to-s3:upload: unknown field \"partSize\""],
    ["upload over the memory budget", { upload: { partSizeMiB: 16, partConcurrency: 4, maxInstancesInFlight: 64 } }, "stowrs-to-s3:upload: maxInstancesInFlight 64 can need 6304 MiB, more than the app container has: 768 MiB"],
    ["upload not even one instance fits", { upload: { partSizeMiB: 200 } }, "stowrs-to-s3:upload: not even one instance upload fits"],
    ["upload maxInstancesInFlight range", { upload: { maxInstancesInFlight: 0 } }, "stowrs-to-s3:upload: maxInstancesInFlight must be between 1 and 100000"],
    ["certificate clientauth without truststore", { certificate: { mode: "FROMS3", authMode: "clientauth" } }, "stowrs-to-s3:certificate: clientauth needs a truststore source"],
    ["certificate truststore unreadable", { certificate: { mode: "FROMS3", authMode: "clientauth", truststore: "no/such/ca.pem" } }, "stowrs-to-s3:certificate: truststore: cannot read no/such/ca.pem"],
    ["certificate truststore with a key", { certificate: { mode: "FROMS3", authMode: "clientauth", truststore: "stacks/examples/placeholder-client-ca.key" } }, "stowrs-to-s3:certificate: truststore stacks/examples/placeholder-client-ca.key holds a private key"],
    ["certificate truststore not PEM", { certificate: { mode: "FROMS3", authMode: "clientauth", truststore: "Pulumi.yaml" } }, "stowrs-to-s3:certificate: truststore Pulumi.yaml holds no PEM certificate"],
    ["certificate truststore with anonymous", { certificate: { mode: "FROMS3", authMode: "anonymous", truststore: PLACEHOLDER_CA } }, "stowrs-to-s3:certificate: truststore is only used with authMode clientauth"],
    ["certificate key without certificate", { certificate: { mode: "FROMS3", serverKey: "x" } }, "stowrs-to-s3:certificate: serverCertificate and serverKey go together"],
    ["certificate key not secret", { certificate: { mode: "FROMS3", serverCertificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----", serverKey: "k" } }, "stowrs-to-s3:certificate: serverKey must be stored encrypted"],
    ["certificate external without bucket", { certificate: { mode: "FROMS3", source: "external" } }, "stowrs-to-s3:certificate: source external needs bucket"],
    ["certificate external with truststore", { certificate: { mode: "FROMS3", source: "external", bucket: "site-tls", truststore: PLACEHOLDER_CA } }, "stowrs-to-s3:certificate: truststore is only used with source stack"],
    ["certificate source", { certificate: { mode: "FROMS3", source: "s3" } }, "stowrs-to-s3:certificate: source must be one of stack, external"],
    ["protectData", { protectData: "yes" }, "stowrs-to-s3:protectData: must be true or false"],
    ["logRetentionDays", { logRetentionDays: 10 }, "stowrs-to-s3:logRetentionDays: must be one of CloudWatch's retention periods"],
    ["accessLogRetentionDays", { accessLogRetentionDays: 0 }, "stowrs-to-s3:accessLogRetentionDays: must be whole days from 1 to 3653"],
    ["tags deployment", { tags: { deployment: "x" } }, "stowrs-to-s3:tags: \"deployment\" is set from appName"],
    ["tags aws prefix", { tags: { "aws:owner": "x" } }, "stowrs-to-s3:tags: \"aws:owner\": the aws: prefix is reserved"],
    ["tags nested value", { tags: { owner: { team: "x" } } }, "stowrs-to-s3:tags: value of \"owner\" must be text"],
    ["images reference", { images: { app: "not an image" } }, "stowrs-to-s3:images: app \"not an image\" is not an image reference"],
    ["unknown key", { certficate: { mode: "ACM" } }, "stowrs-to-s3:certficate: unknown key"],
    ["region missing", { "aws:region": undefined }, "aws:region: required"],
    ["region malformed", { "aws:region": "Frankfurt" }, "aws:region: \"Frankfurt\" is not an AWS region name"],
  ];

  it.each(cases)("%s", (_label, overrides, expected) => {
    const problems = problemsOf(overrides);
    expect(problems.some((p) => p.startsWith(expected)), `${expected}\nnot in\n${problems.join("\n")}`).toBe(true);
  });

  it("reports every invalid key at once, each message naming its key", () => {
    const problems = problemsOf({
      appName: "this-name-is-far-too-long",
      vpcCidr: "10.0.0.0/33",
      certificate: { mode: "ACM", authMode: "clientauth", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/abc" },
      allowedPeers: ["300.1.1.1/32"],
      fargate: { cpu: 256, memory: 4096 },
      upload: { partConcurrency: 100 },
    });
    const keys = problems.map((p) => /^([^:]+:[^:]+):/.exec(p)?.[1]);
    expect(new Set(keys)).toEqual(
      new Set([
        "stowrs-to-s3:appName",
        "stowrs-to-s3:vpcCidr",
        "stowrs-to-s3:certificate",
        "stowrs-to-s3:allowedPeers",
        "stowrs-to-s3:fargate",
        "stowrs-to-s3:upload",
      ]),
    );
    expect(problems).toContain(
      "stowrs-to-s3:certificate: clientauth needs mode FROMS3 (the NLB cannot check client certificates, so TLS must pass through to nginx)",
    );
  });

  it("throws an error whose message lists the problems, without a stack trace from Pulumi", () => {
    const err = (() => {
      try {
        parsed({ appName: "UPPER" });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err?.message).toContain("stowrs-to-s3:appName:");
    // RunError is what Pulumi prints as a plain message.
    expect(err?.constructor.name).toBe("ConfigError");
  });

  it("accepts the documented valid combinations", () => {
    expect(parsed({ certificate: { mode: "ACM", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c-2d3e" } }).certificate).toEqual({
      mode: "ACM",
      authMode: "anonymous",
      arn: "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c-2d3e",
    });
    expect(parsed({ certificate: { mode: "FROMS3", authMode: "clientauth", source: "external", bucket: "site-certs" } }).certificate).toEqual({
      mode: "FROMS3",
      authMode: "clientauth",
      source: "external",
      bucket: "site-certs",
    });
    expect(parsed({ fargate: { cpu: 16384, memory: 122880, taskCount: 3, minTasks: 2, maxTasks: 10 } }).fargate).toEqual({
      cpu: 16384,
      memory: 122880,
      taskCount: 3,
      minTasks: 2,
      maxTasks: 10,
      drainSeconds: 60,
      enableExecuteCommand: false,
    });
    expect(parsed({ app: { prefix: "/incoming/dicom/", logLevel: "debug", responseDelay: 1.5 } }).app).toEqual({
      prefix: "incoming/dicom",
      wadoUrl: "",
      logLevel: "DEBUG",
      responseDelay: 1.5,
      duplicatePolicy: "overwrite",
      bodyMinBytesPerSecond: 1024,
      bodyRateWindowSeconds: 60,
    });
    expect(parsed({ tags: { owner: "radiology-it", "cost-center": 4711 } }).tags).toEqual({ owner: "radiology-it", "cost-center": "4711" });
  });
});
