// Minimal declarations for untyped dependencies; the parts used are typed where they are used.
declare module "dcmjs" {
  const dcmjs: {
    data: unknown;
    log: { setLevel(level: string): void; getLogger(name: string): { setLevel(level: string): void } };
  };
  export default dcmjs;
}

declare module "s3rver" {
  interface S3rverOptions {
    address?: string;
    port?: number;
    directory: string;
    silent?: boolean;
    configureBuckets?: Array<{ name: string; configs: unknown[] }>;
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(callback?: () => void): void;
  }
}
