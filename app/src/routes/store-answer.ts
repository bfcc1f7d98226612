// The answer to a store request once its body has been read: the Store Instances Response
// (PS3.18 Annex I) in the negotiated format, the status PS3.18 10.5.3 gives it, and the first
// problem in words in a Warning header. The route answers with it, and so does the central error
// handler (error-response.ts) when a fault of the service comes after instances were stored.
import type { Context } from "hono";
import type { ResponseFormat } from "../stow/accept.js";
import { statusOf, type StoreResult } from "../stow/outcome.js";
import { buildStoreResponse } from "../stow/response.js";
import { toNativeDicomModel } from "../stow/response-xml.js";
import { quotedStringText } from "./header-value.js";

/** What the central error handler needs to answer for a store request whose body has been read. */
export interface StoreAnswer {
  result: StoreResult;
  format: ResponseFormat;
}

declare module "hono" {
  interface ContextVariableMap {
    /** Set by the store route as soon as it has a result. */
    storeAnswer: StoreAnswer;
  }
}

export function storeAnswer(c: Context, { result, format }: StoreAnswer, wadoUrl: string | undefined): Response {
  // The first problem in words, for people reading responses; the body carries every reason as a number.
  // It may quote the request (a part's Content-Type): reduced to what a header can carry.
  const problem = result.requestError?.message ?? [...result.instances.filter((i) => !i.stored), ...result.otherFailures][0]?.message;
  if (problem) c.header("Warning", `299 stowrs-to-s3 "${quotedStringText(problem)}"`);
  // The rest of the body was not read: the connection cannot carry another request.
  if (result.requestError || result.faulted) c.header("Connection", "close");
  const json = buildStoreResponse(result, wadoUrl);
  c.header("Content-Type", format.contentType);
  return c.body(format.format === "xml" ? toNativeDicomModel(json) : JSON.stringify(json), statusOf(result));
}
