import { describe, expect, it } from "vitest";
import { MOCK_ACCOUNT_ID, OfflineAwsMocks } from "./mocks";

const mocks = new OfflineAwsMocks("eu-west-1");

describe("OfflineAwsMocks", () => {
  it("answers the invokes the program makes, for the configured region", () => {
    expect(mocks.call({ token: "aws:index/getAvailabilityZones:getAvailabilityZones", inputs: {} }).names).toEqual([
      "eu-west-1a",
      "eu-west-1b",
      "eu-west-1c",
    ]);
    expect(mocks.call({ token: "aws:index/getCallerIdentity:getCallerIdentity", inputs: {} }).accountId).toBe(MOCK_ACCOUNT_ID);
  });

  it("names an invoke it has no answer for, instead of inventing one", () => {
    expect(() => mocks.call({ token: "aws:ec2/getAmi:getAmi", inputs: {} })).toThrow("offline plan has no mock for the call aws:ec2/getAmi:getAmi");
  });

  it("gives the same ids and ARNs on every run", () => {
    const make = () => mocks.newResource({ type: "aws:s3/bucket:Bucket", name: "x-dicom", inputs: { bucketPrefix: "x-dicom" } });
    expect(make()).toEqual(make());
    const { id, state } = make();
    expect(id).toMatch(/^x-dicom-[0-9a-f]+$/);
    expect(state).toMatchObject({ bucket: id, arn: `arn:aws:s3:::${id}`, bucketPrefix: "x-dicom" });
  });

  it("echoes inputs and adds what AWS would compute", () => {
    const { id, state } = mocks.newResource({ type: "aws:cloudwatch/logGroup:LogGroup", name: "lg", inputs: { name: "/a/app", retentionInDays: 30 } });
    expect(id).toBe("/a/app");
    expect(state).toEqual({ name: "/a/app", retentionInDays: 30, arn: `arn:aws:logs:eu-west-1:${MOCK_ACCOUNT_ID}:log-group:/a/app` });
  });
});
