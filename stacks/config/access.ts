// Who may read the PHI besides the service, and who administers its key (stacks/dicom-access.ts).
import { defineBlock } from "./block";

/** An IAM role or user, as aws:PrincipalArn carries it (a role session appears as its role); `*` and `?` match as in ArnLike. */
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@\-/*?]{1,512}$/;
const STS_SESSION = /^arn:aws[a-z-]*:sts::/;

const defaults = {
  /** @default [] */
  dataReaders: [] as string[],
};

export const accessBlock = defineBlock({
  keys: ["dataReaders", "deployRoleArn"],
  defaults,
  read(r): {
    /**
     * IAM role (or user) ARNs that may read and delete DICOM objects besides the task role, in
     * the stack's account; everyone else is denied by the bucket policy, whatever their IAM
     * policies say. They still need an IAM policy of their own (s3:GetObject, and with SSE-KMS
     * the key policy lets them kms:Decrypt through S3). @default [] (the task role only)
     */
    dataReaders: string[];
    /**
     * The IAM role that runs `pulumi up`, which administers the DICOM key. Set it when more
     * than one identity deploys (CI and people); every other identity can still deploy but not
     * change the key's policy. @default the role of the identity running Pulumi
     */
    deployRoleArn?: string;
  } {
    const dataReaders: string[] = [];
    const raw = r.raw("dataReaders");
    if (raw !== undefined) {
      let list: unknown;
      try {
        list = JSON.parse(raw);
      } catch {
        list = raw.split(",").map((s) => s.trim());
      }
      if (typeof list === "string") list = [list];
      if (!Array.isArray(list)) r.report("dataReaders", `expected a list of IAM role ARNs, got ${raw}`);
      else {
        for (const item of list) {
          const problem = principalProblem(item);
          if (problem) r.report("dataReaders", problem);
          else if (dataReaders.includes(item)) r.report("dataReaders", `${item} is listed twice`);
          else dataReaders.push(item);
        }
      }
    }
    const deployRaw = r.raw("deployRoleArn");
    let deployRoleArn: string | undefined;
    if (deployRaw !== undefined) {
      const problem = principalProblem(deployRaw.trim());
      if (problem) r.report("deployRoleArn", problem);
      else if (/[*?]/.test(deployRaw)) r.report("deployRoleArn", `${deployRaw} must name one role, without wildcards`);
      else deployRoleArn = deployRaw.trim();
    }
    return { dataReaders, ...(deployRoleArn ? { deployRoleArn } : {}) };
  },
});

function principalProblem(item: unknown): string | undefined {
  if (typeof item !== "string") return `${JSON.stringify(item)} is not an ARN string`;
  if (STS_SESSION.test(item)) return `${item} is a session; give the role's ARN (arn:aws:iam::<account>:role/<name>), which is what aws:PrincipalArn carries`;
  if (!PRINCIPAL_ARN.test(item)) return `${item} is not an IAM role or user ARN like arn:aws:iam::123456789012:role/pacs-reader`;
  return undefined;
}
