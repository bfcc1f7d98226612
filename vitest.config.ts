import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    {
      // GitHub's workflow parser (inlined below) ships source maps without the sources they
      // name; its files are read without them, or vite warns once per file.
      name: "workflow-parser-without-source-maps",
      load(id) {
        if (!/[\\/]@actions[\\/]workflow-parser[\\/]dist[\\/].*\.js$/.test(id)) return null;
        return readFileSync(id, "utf8").replace(/\/\/# sourceMappingURL=\S+\s*$/, "");
      },
    },
  ],
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
    server: {
      deps: {
        // GitHub's workflow parser imports its JSON schema without an import attribute, which
        // only a bundler accepts: let vite transform it instead of Node loading it.
        inline: ["@actions/workflow-parser"],
      },
    },
  },
});
