// A static file server for tests and the demo, bound to 127.0.0.1 on a free port.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".map": "application/json",
};

/**
 * Serves files under the given repository folders (e.g. ["pkg", "tests/browser/pages"]).
 * `api(request, response)`, when given, sees every request first and returns true if it answered.
 */
export async function startStaticServer(folders, { port = 0, api } = {}) {
  const allowed = folders.map((folder) => join(repoRoot, folder));
  const server = createServer(async (request, response) => {
    if (api && (await api(request, response))) return;
    const path = decodeURIComponent(new URL(request.url, "http://localhost").pathname);
    const file = normalize(join(repoRoot, path.endsWith("/") ? path + "index.html" : path));
    if (!allowed.some((folder) => file.startsWith(folder + "/"))) {
      response.writeHead(404).end("not found");
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      response.end(body);
    } catch {
      response.writeHead(404).end("not found");
    }
  });
  await new Promise((ready) => server.listen(port, "127.0.0.1", ready));
  const { port: boundPort } = server.address();
  return {
    origin: `http://127.0.0.1:${boundPort}`,
    close: () => new Promise((done) => server.close(done)),
  };
}
