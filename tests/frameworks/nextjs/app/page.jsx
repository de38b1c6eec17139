// A Server Component: it imports authlane (which must touch no browser API on the server) and reads
// the user's access-token cookie, which the client session takes as `initialToken`.
import { cookies } from "next/headers";
import { LOADING_SNAPSHOT } from "authlane";
import Session from "./session.jsx";

export default async function Page() {
  const initialToken = (await cookies()).get("authlane_token")?.value ?? null;
  return (
    <main>
      <p>
        server-rendered as <span id="server-status">{LOADING_SNAPSHOT.status}</span>
      </p>
      <Session issuer={process.env.AUTHLANE_ISSUER} initialToken={initialToken} />
    </main>
  );
}
