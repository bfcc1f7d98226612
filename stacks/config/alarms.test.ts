import { describe, expect, it } from "vitest";
import { configProblems, parsedConfig } from "../testing/config-problems";

describe("alarms config", () => {
  it("is on by default, with no address and no existing topic", () => {
    const { alarms } = parsedConfig({});
    expect(alarms).toMatchObject({ enabled: true, evaluationMinutes: 5, cpuPercent: 85, memoryPercent: 90, certificateDaysLeft: 30 });
    expect(alarms.email).toBeUndefined();
    expect(alarms.topicArn).toBeUndefined();
  });

  it("takes an address, an existing topic of the stack's region, thresholds, and enabled as a boolean or as text", () => {
    expect(parsedConfig({ alarms: { email: "oncall@hospital.org", cpuPercent: 70, s3UnavailablePerMinute: 2 } }).alarms).toMatchObject({
      email: "oncall@hospital.org",
      cpuPercent: 70,
      s3UnavailablePerMinute: 2,
    });
    const topicArn = "arn:aws:sns:eu-central-1:123456789012:radiology-oncall";
    expect(parsedConfig({ alarms: { topicArn } }).alarms.topicArn).toBe(topicArn);
    expect(parsedConfig({ alarms: { enabled: "false" } }).alarms.enabled).toBe(false);
  });

  it("refuses what could never notify anyone, naming the key", () => {
    expect(configProblems({ alarms: { email: "oncall" } })).toEqual(['stowrs-to-s3:alarms: email "oncall" is not an email address']);
    expect(configProblems({ alarms: { topicArn: "arn:aws:sns:us-east-1:123456789012:oncall" } })).toEqual([
      "stowrs-to-s3:alarms: topicArn is in us-east-1 but the stack deploys to eu-central-1; alarms notify a topic of their own region",
    ]);
    expect(configProblems({ alarms: { topicArn: "arn:aws:sns:eu-central-1:123456789012:oncall.fifo" } })[0]).toMatch(/FIFO topic/);
    expect(configProblems({ alarms: { topicArn: "oncall" } })).toEqual(['stowrs-to-s3:alarms: topicArn "oncall" is not an SNS topic ARN']);
    expect(configProblems({ alarms: { topicArn: "arn:aws:sns:eu-central-1:123456789012:oncall", email: "a@b.org" } })[0]).toMatch(/with topicArn, subscribe the address to that topic yourself/);
  });

  it("refuses thresholds out of range and unknown fields, all at once", () => {
    expect(configProblems({ alarms: { cpuPercent: 120, evaluationMinutes: 0, refused: 3 } })).toEqual([
      'stowrs-to-s3:alarms: unknown field "refused" (known fields: enabled, email, topicArn, evaluationMinutes, cpuPercent, memoryPercent, refusedInstancesPerMinute, capacityRejectionsPerMinute, s3UnavailablePerMinute, certificateDaysLeft)',
      "stowrs-to-s3:alarms: evaluationMinutes must be between 1 and 60, got 0",
      "stowrs-to-s3:alarms: cpuPercent must be between 1 and 100, got 120",
    ]);
    expect(configProblems({ alarms: { enabled: "yes" } })).toEqual(['stowrs-to-s3:alarms: enabled must be true or false, got "yes"']);
  });

  it("refuses alarms on log lines the app's log level drops, naming both keys; alarms off leave the level free", () => {
    const [problem] = configProblems({ app: { logLevel: "WARNING" } });
    expect(problem).toMatch(/^stowrs-to-s3:alarms: .*stowrs-to-s3:app logLevel WARNING drops: set app.logLevel INFO \(or DEBUG\), or alarms.enabled false$/);
    expect(parsedConfig({ app: { logLevel: "ERROR" }, alarms: { enabled: false } }).app.logLevel).toBe("ERROR");
    expect(parsedConfig({ app: { logLevel: "DEBUG" } }).alarms.enabled).toBe(true);
  });

  it("takes an address at an example domain as a placeholder", () => {
    expect(parsedConfig({ alarms: { email: "oncall@hospital.example.org" } }).placeholders).toEqual([
      { key: "stowrs-to-s3:alarms", message: expect.stringMatching(/example domain: nobody would hear an alarm/) },
    ]);
    expect(parsedConfig({ alarms: { enabled: false, email: "oncall@example.com" } }).placeholders).toEqual([]);
  });
});
