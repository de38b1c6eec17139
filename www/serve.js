// Serves the demo and the built package on 127.0.0.1 (PORT, default 8080) until interrupted.
import { startStaticServer } from "../tests/support/static-server.js";

const port = Number(process.env.PORT ?? 8080);
const server = await startStaticServer(["www", "pkg"], { port });
console.log(`authlane demo: ${server.origin}/www/`);
console.log("Ctrl-C to stop.");
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
