// Child-process entry of the null S3 sink (null-s3.ts): its own process, so that its CPU is not
// counted as the service's. Prints one JSON line with its port; exits when its parent does.
import { startNullS3 } from "./null-s3.js";

const { server, port } = await startNullS3(process.env.NULL_S3_BUCKET ?? "dicom", Number(process.env.NULL_S3_PORT ?? "0"));
process.stdout.write(JSON.stringify({ event: "null-s3-listening", port }) + "\n");

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// The parent holds our stdin open; when it dies (even by SIGKILL) the pipe closes and we follow.
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
