// Policy pack entry point for `pulumi preview --policy-pack stacks/policy`. The rules
// themselves live in rules.ts so tests can load them without starting the analyzer.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("stowrs-to-s3", {
  description: "Guard rails of the STOW-RS to S3 deployment: encryption, no public buckets, TLS 1.3, ingress, tags, encrypted queues, alarms that notify.",
  enforcementLevel: "advisory",
  policies,
});
