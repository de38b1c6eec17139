// A consumer's TypeScript against authlane/svelte's declarations (see app.tsx).
import { createAuth, type AuthSnapshot } from "authlane";
import { getAuthlane, setupAuthlane, type AuthlaneSession } from "authlane/svelte";
import { get, type Readable } from "svelte/store";

export function root(): AuthlaneSession {
  return setupAuthlane({ fetchAccessToken: async ({ forceRefreshToken }) => (forceRefreshToken ? "a.b.c" : null) });
}

export function rootWithAuth(): AuthlaneSession {
  return setupAuthlane(createAuth({ fetchAccessToken: () => null }));
}

export function child(): boolean {
  const session = getAuthlane();
  const store: Readable<AuthSnapshot> = session;
  const snapshot: AuthSnapshot = get(store);
  void session.getToken({ forceRefresh: true }).then((token: string | null) => token);
  void session.signOut();
  // @ts-expect-error fields are read-only: the session holds no state of its own
  session.isAuthenticated = true;
  return snapshot.isLoading || session.isAuthenticated || session.claims?.sub === "x" || session.auth === null;
}
