// What loadConfig refuses in an environment: the problems its ConfigError lists, none when it loads.
import { ConfigError, loadConfig } from "../../src/config.js";

export function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}
