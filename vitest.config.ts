import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "app/**/*.test.ts",
      "nginx/**/*.test.ts",
      "stacks/**/*.test.ts",
      "dcm-samples/**/*.test.ts",
      "bench/**/*.test.ts",
      ".github/**/*.test.ts",
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    // Real servers (s3rver, nginx, Orthanc) start inside tests; give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
