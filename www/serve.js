// The static-only demo (no devserver, no cargo): builds the demo pages (www/build-demo.js), then
// serves the demo and the built package on 127.0.0.1 (PORT, default 8080) until interrupted. `/`
// redirects to the vanilla page. The three in-page-issuer pages work here; the real-convex page
// needs the devserver: `make demo` (www/devserver.js) serves all four.
import { startStaticServer } from "../tests/support/static-server.js";
import { buildDemo } from "./build-demo.js";

const started = performance.now();
await buildDemo();
console.log(`authlane demo: built the React, Svelte and real-convex pages in ${Math.round(performance.now() - started)} ms`);

const port = Number(process.env.PORT ?? 8080);
const redirectRoot = (request, response) => {
  if (new URL(request.url, "http://localhost").pathname !== "/") return false;
  response.writeHead(302, { location: "/www/" }).end();
  return true;
};
const server = await startStaticServer(["www", "pkg", "tests/support"], { port, api: redirectRoot });
console.log(`authlane demo (open one in two tabs, or two side by side: they share one session):
  vanilla JS  ${server.origin}/www/
  React       ${server.origin}/www/dist/react/
  Svelte      ${server.origin}/www/dist/svelte/
(the real-convex page needs the devserver: \`make demo\`)
Ctrl-C to stop.`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
