// The app sits inside the authlane repository, whose own lockfile would make Next.js take the
// repository for the workspace root: pin it to this folder. Nothing here is needed for authlane.
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));

export default { turbopack: { root }, outputFileTracingRoot: root };
