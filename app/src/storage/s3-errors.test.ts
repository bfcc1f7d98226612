import { describe, expect, it } from "vitest";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { Reason } from "../stow/reasons.js";
import { reasonForS3Error } from "./s3-errors.js";

function serviceError(name: string, status: number) {
  return new S3ServiceException({ name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status }, message: name });
}

describe("reasonForS3Error", () => {
  it.each([
    ["SlowDown 503", serviceError("SlowDown", 503)],
    ["InternalError 500", serviceError("InternalError", 500)],
    ["throttling 429", serviceError("TooManyRequests", 429)],
    ["connection refused", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" })],
    ["timeout", Object.assign(new Error("Connection timed out after 5000 ms"), { name: "TimeoutError" })],
    ["wrapped network error", new AggregateError([Object.assign(new Error("x"), { code: "ECONNRESET" })])],
  ])("maps %s to 0xA700", (_, err) => {
    expect(reasonForS3Error(err)).toBe(Reason.OutOfResources);
  });

  it.each([
    ["AccessDenied 403", serviceError("AccessDenied", 403)],
    ["NoSuchBucket 404", serviceError("NoSuchBucket", 404)],
    ["plain error", new Error("something else")],
  ])("maps %s to 0x0110", (_, err) => {
    expect(reasonForS3Error(err)).toBe(Reason.ProcessingFailure);
  });
});
