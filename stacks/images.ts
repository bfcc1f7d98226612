// Container images: prebuilt URIs from config, or built from app/Dockerfile and
// nginx/Dockerfile (build context = repository root) and pushed to private ECR
// repositories made here.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";

/** Tasks run on x86_64 (see the task definition's runtimePlatform). */
export const IMAGE_PLATFORM = "linux/amd64";

export interface ImagesArgs {
  appName: string;
  images: { app?: string; nginx?: string };
  /** Repository root, relative to the working directory of the Pulumi program. */
  buildContext: string;
}

export interface Images {
  app: pulumi.Output<string>;
  nginx: pulumi.Output<string>;
  /** ECR repositories the execution role must be able to pull from. */
  ecrRepositoryArns: pulumi.Output<string>[];
}

export function createImages(args: ImagesArgs, opts: pulumi.CustomResourceOptions): Images {
  const app = image("app", args, opts);
  const nginx = image("nginx", args, opts);
  return {
    app: app.uri,
    nginx: nginx.uri,
    ecrRepositoryArns: [app.repositoryArn, nginx.repositoryArn].filter((a): a is pulumi.Output<string> => a !== undefined),
  };
}

function image(
  container: "app" | "nginx",
  args: ImagesArgs,
  opts: pulumi.CustomResourceOptions,
): { uri: pulumi.Output<string>; repositoryArn?: pulumi.Output<string> } {
  const prebuilt = args.images[container];
  if (prebuilt !== undefined) {
    const arn = ecrRepositoryArn(prebuilt);
    return { uri: pulumi.output(prebuilt), repositoryArn: arn === undefined ? undefined : pulumi.output(arn) };
  }
  const name = `${args.appName}-${container}`;
  const repository = new aws.ecr.Repository(
    name,
    {
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: "MUTABLE",
      encryptionConfigurations: [{ encryptionType: "AES256" }],
      // Images are rebuilt from the repository; nothing in ECR is worth keeping.
      forceDelete: true,
    },
    opts,
  );
  new aws.ecr.LifecyclePolicy(
    name,
    {
      repository: repository.name,
      policy: JSON.stringify({
        rules: [
          {
            rulePriority: 1,
            description: "keep the 20 most recent images",
            selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 20 },
            action: { type: "expire" },
          },
        ],
      }),
    },
    opts,
  );
  const built = new awsx.ecr.Image(
    name,
    {
      repositoryUrl: repository.repositoryUrl,
      context: args.buildContext,
      dockerfile: `${args.buildContext}/${container}/Dockerfile`,
      platform: IMAGE_PLATFORM,
    },
    { providers: opts.provider ? [opts.provider] : undefined },
  );
  return { uri: built.imageUri, repositoryArn: repository.arn };
}

const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/([^:@]+)/;

/** ARN of the private ECR repository an image URI points into, if it is one. */
export function ecrRepositoryArn(imageUri: string): string | undefined {
  const m = ECR_IMAGE.exec(imageUri);
  if (!m) return undefined;
  const partition = m[3] ? "aws-cn" : "aws";
  return `arn:${partition}:ecr:${m[2]}:${m[1]}:repository/${m[4]}`;
}
