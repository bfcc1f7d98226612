import { connect } from "node:net";

export { freePort } from "../../app/test/support/free-port.js";

/** Whether something accepts TCP connections on 127.0.0.1:port right now. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      // A connect to a free port in the ephemeral range can pick that same
      // port as its source and "succeed" by connecting to itself.
      const self = socket.localPort === port;
      socket.destroy();
      resolve(!self);
    });
    socket.once("error", () => resolve(false));
  });
}
