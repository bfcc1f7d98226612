import { describe, expect, it } from "vitest";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { s3FailureOf } from "./s3-errors.js";

function serviceError(name: string, status: number) {
  return new S3ServiceException({ name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status }, message: name });
}

describe("s3FailureOf", () => {
  it.each([
    ["SlowDown 503", serviceError("SlowDown", 503)],
    ["InternalError 500", serviceError("InternalError", 500)],
    ["throttling 429", serviceError("TooManyRequests", 429)],
    ["connection refused", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" })],
    ["timeout", Object.assign(new Error("Connection timed out after 5000 ms"), { name: "TimeoutError" })],
    ["wrapped network error", new AggregateError([Object.assign(new Error("x"), { code: "ECONNRESET" })])],
  ])("takes %s for S3 being unavailable", (_, err) => {
    expect(s3FailureOf(err)).toBe("s3-unavailable");
  });

  it.each([
    ["AccessDenied 403", serviceError("AccessDenied", 403)],
    ["NoSuchBucket 404", serviceError("NoSuchBucket", 404)],
    ["plain error", new Error("something else")],
  ])("takes %s for an error about this request", (_, err) => {
    expect(s3FailureOf(err)).toBe("s3-error");
  });
});
