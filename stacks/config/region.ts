// aws:region: the one key outside the stowrs-to-s3 namespace the program needs.
import { defineBlock } from "./block";

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

export const regionBlock = defineBlock({
  keys: [],
  read(r): {
    /**
     * The AWS region everything is deployed to: aws:region, else AWS_REGION, else
     * AWS_DEFAULT_REGION from the environment. @default none (required)
     */
    region: string;
  } {
    const raw = r.values["aws:region"] ?? r.env.AWS_REGION ?? r.env.AWS_DEFAULT_REGION;
    let region = "";
    if (raw === undefined || raw.trim() === "") {
      r.problem(`aws:region: required; set it with "pulumi config set aws:region <region>"`);
    } else if (!REGION.test(raw.trim())) {
      r.problem(`aws:region: "${raw}" is not an AWS region name`);
    } else region = raw.trim();
    return { region };
  },
});
