import { describe, expect, it } from "vitest";
import { createImages, ecrRepositoryArn } from "./images";
import { inputs, ofType, recordComponent } from "./testing/harness";

describe("createImages", () => {
  it("builds both images from their Dockerfiles with the repository root as context", async () => {
    const { resources, result } = await recordComponent((opts) => createImages({ appName: "im", images: {}, buildContext: "." }, opts));
    const builds = ofType(resources, "awsx:ecr:Image").map((r) => inputs(r));
    expect(builds.map((b) => [b.dockerfile, b.context, b.platform])).toEqual([
      ["./app/Dockerfile", ".", "linux/amd64"],
      ["./nginx/Dockerfile", ".", "linux/amd64"],
    ]);
    expect(ofType(resources, "aws:ecr/repository:Repository").map((r) => inputs(r).imageScanningConfiguration)).toEqual([
      { scanOnPush: true },
      { scanOnPush: true },
    ]);
    expect(result.app).toMatch(/^123456789012\.dkr\.ecr\.eu-central-1\.amazonaws\.com\/im-app-.+@sha256:/);
    expect(result.ecrRepositoryArns).toHaveLength(2);
  });

  it("hands the image build the stack's AWS provider", async () => {
    const { resources } = await recordComponent((opts) => createImages({ appName: "im", images: {}, buildContext: "." }, opts));
    for (const image of ofType(resources, "awsx:ecr:Image")) {
      expect(image.options.providers?.aws).toMatch(/pulumi:providers:aws::test-aws::/);
    }
  });

  it("uses prebuilt images as given and builds nothing for them", async () => {
    const app = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/team/stow-app:1.4.0";
    const { resources, result } = await recordComponent((opts) =>
      createImages({ appName: "im", images: { app, nginx: "ghcr.io/example/stow-nginx:1.4.0" }, buildContext: "." }, opts),
    );
    expect(resources.filter((r) => r.type !== "pulumi:providers:aws")).toEqual([]);
    expect(result).toEqual({
      app,
      nginx: "ghcr.io/example/stow-nginx:1.4.0",
      ecrRepositoryArns: ["arn:aws:ecr:eu-central-1:123456789012:repository/team/stow-app"],
    });
  });
});

describe("ecrRepositoryArn", () => {
  it.each([
    ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1", "arn:aws:ecr:eu-west-1:123456789012:repository/app"],
    ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b@sha256:ab", "arn:aws:ecr:eu-west-1:123456789012:repository/a/b"],
    ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", "arn:aws-cn:ecr:cn-north-1:123456789012:repository/app"],
    ["public.ecr.aws/nginx/nginx:1.27", undefined],
    ["docker.io/library/nginx:1.27", undefined],
  ])("%s", (uri, arn) => {
    expect(ecrRepositoryArn(uri)).toBe(arn);
  });
});
