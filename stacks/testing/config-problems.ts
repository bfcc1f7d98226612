// What parseConfig makes of a configuration: the typed result, or every problem it reports.
import { expect } from "vitest";
import { ConfigError, parseConfig, type StackConfig } from "../config";
import { configMap } from "./harness";

export function parsedConfig(overrides: Record<string, unknown>): StackConfig {
  return parseConfig(configMap(overrides), {}, { projectDir: process.cwd() });
}

export function configProblems(overrides: Record<string, unknown>): string[] {
  try {
    parseConfig(configMap(overrides), {}, { projectDir: process.cwd() });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected the configuration to be rejected");
}
