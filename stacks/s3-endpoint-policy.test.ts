import { describe, expect, it } from "vitest";
import { ecrLayerBucketObjects, s3EndpointPolicyDocument } from "./s3-endpoint-policy";
import { inputs, json, one, recordWith } from "./testing/harness";

describe("s3EndpointPolicyDocument", () => {
  it("allows the task role's S3 statements for any principal, and ECR's layer bucket of the region", () => {
    const doc = s3EndpointPolicyDocument("aws", {
      region: "eu-west-1",
      dicomBucketArn: "arn:aws:s3:::dicom",
      prefix: "in",
      kmsKeyArn: "arn:aws:kms:eu-west-1:1:key/k",
      certificateObjectArns: ["arn:aws:s3:::certs/certificate.crt"],
      executeCommand: true,
    });
    expect(doc.Statement.map((s: any) => [s.Sid, s.Principal, s.Resource])).toEqual([
      ["StackWriteDicomObjects", "*", "arn:aws:s3:::dicom/in/*"],
      ["StackListDicomPrefix", "*", "arn:aws:s3:::dicom"],
      ["StackReadTlsMaterial", "*", ["arn:aws:s3:::certs/certificate.crt"]],
      ["StackFindTlsMaterial", "*", ["arn:aws:s3:::certs"]],
      ["EcrImageLayers", "*", "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*"],
    ]);
    expect(JSON.stringify(doc)).not.toMatch(/kms:|ssmmessages:/);
    expect(ecrLayerBucketObjects("aws-cn", "cn-north-1")).toBe("arn:aws-cn:s3:::prod-cn-north-1-starport-layer-bucket/*");
  });
});

describe("the S3 gateway endpoint in the stack", () => {
  it("gets a policy of its own naming the DICOM and certificate buckets", async () => {
    const { resources, outputs } = await recordWith({ app: { prefix: "dicom" } });
    const policy = one(resources, "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy");
    expect(inputs(policy).vpcEndpointId).toBe(one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint", "stowrs-test-s3-endpoint").id);
    const text = inputs(policy).policy;
    expect(text).toContain(`arn:aws:s3:::${outputs.dicomBucketName}/dicom/*`);
    expect(text).toContain(`arn:aws:s3:::${outputs.certificatesBucketName}/certificate.crt`);
    expect(json(text).Statement.at(-1).Sid).toBe("EcrImageLayers");
  });
});
