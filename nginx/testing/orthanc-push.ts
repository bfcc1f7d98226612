// What the front's Orthanc scenarios (orthanc-scenario.ts: client certificates,
// orthanc-oidc-scenario.ts: bearer tokens) do alike: have Orthanc push a study to one of its
// DICOMweb servers, and compare the bucket with the instances Orthanc holds.
import type { S3Client } from "@aws-sdk/client-s3";
import { expectedKey } from "../../app/test/support/key-layout.js";
import type { OrthancProcess } from "../../app/test/support/orthanc.js";
import { readObject } from "../../app/test/support/s3-objects.js";
import type { SentPart, StoredExpectation } from "../../app/test/support/stow-check.js";

export interface Push {
  /** Orthanc's answer to POST /dicom-web/servers/{name}/stow. */
  httpStatus: number;
  answer: string;
}

export interface ObjectCheck {
  file: string;
  key: string;
  stored: boolean;
  equalsOrthancCopy: boolean;
}

/** Orthanc sends the study to its DICOMweb server `server`, synchronously. */
export async function pushStudy(orthanc: OrthancProcess, server: string, studyId: string): Promise<Push> {
  const reply = await orthanc.request("POST", `/dicom-web/servers/${server}/stow`, JSON.stringify({ Resources: [studyId], Synchronous: true }));
  return { httpStatus: reply.status, answer: reply.text.slice(0, 500) };
}

/** Whether any of the samples has an object at its key. */
export async function anyStored(s3: { client: S3Client; bucket: string }, samples: SentPart[]): Promise<boolean> {
  const found = await Promise.all(
    samples.map((s) => readObject(s3.client, s3.bucket, expectedKey(s.expect as StoredExpectation)).then((o) => o !== undefined, () => false)),
  );
  return found.some(Boolean);
}

/** Per sample: whether its key holds an object, and whether that object is Orthanc's copy byte for byte. */
export async function objectsAgainstOrthanc(orthanc: OrthancProcess, s3: { client: S3Client; bucket: string }, samples: SentPart[], orthancIds: Map<string, string>): Promise<ObjectCheck[]> {
  const checks: ObjectCheck[] = [];
  for (const sample of samples) {
    const key = expectedKey(sample.expect as StoredExpectation);
    const orthancCopy = (await orthanc.request("GET", `/instances/${orthancIds.get(sample.label)}/file`)).bytes;
    const object = await readObject(s3.client, s3.bucket, key).catch(() => undefined);
    checks.push({ file: sample.label, key, stored: object !== undefined, equalsOrthancCopy: object?.bytes.equals(orthancCopy) ?? false });
  }
  return checks;
}
