// Child-process entry of the null S3 sink (null-s3.ts): its own process, so that its CPU is not
// counted as the service's. Prints one JSON line with its port; exits when its parent does.
import { exitWithParent } from "../../app/src/util/exit-with-parent.js";
import { startNullS3 } from "./null-s3.js";

const { server, port } = await startNullS3(process.env.NULL_S3_BUCKET ?? "dicom", Number(process.env.NULL_S3_PORT ?? "0"));
process.stdout.write(JSON.stringify({ event: "null-s3-listening", port }) + "\n");

exitWithParent((done) => {
  server.close(done);
  server.closeAllConnections();
});
