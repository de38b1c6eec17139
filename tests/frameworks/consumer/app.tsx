// A consumer's TypeScript against the published declarations (checked by packaging.test.js with
// tsc --noEmit, under "bundler" and "nodenext" resolution). @ts-expect-error lines prove the types
// are real: were anything `any`, the directive would be unused and tsc would fail.
import { createAuth, type Auth, type AuthSnapshot } from "authlane";
import {
  AuthLoading,
  Authenticated,
  AuthlaneProvider,
  Unauthenticated,
  useAuthFromAuthlane,
  useAuthlane,
  type AuthlaneValue,
} from "authlane/react";
import { ConvexProvider, ConvexProviderWithAuth, ConvexReactClient } from "convex/react";

const auth: Auth = createAuth({ fetchAccessToken: async () => null, refreshLeewaySeconds: 2 });
const convex = new ConvexReactClient("https://example.convex.cloud");

function Profile() {
  const value: AuthlaneValue = useAuthlane();
  const status: "loading" | "authenticated" | "unauthenticated" = value.status;
  const subject: string | null | undefined = value.claims?.sub;
  // @ts-expect-error status is a union of strings
  const wrong: number = value.status;
  void value.getToken({ forceRefresh: true }).then((token: string | null) => token);
  return (
    <p onClick={() => void value.signOut()}>
      {status} {subject} {String(wrong)} {value.error?.code}
    </p>
  );
}

export function WithAuth() {
  return (
    <AuthlaneProvider auth={auth}>
      {/* The drop-in path for an existing Convex app. */}
      <ConvexProviderWithAuth client={convex} useAuth={useAuthFromAuthlane}>
        <AuthLoading>…</AuthLoading>
        <Authenticated>
          <Profile />
        </Authenticated>
        <Unauthenticated>signed out</Unauthenticated>
      </ConvexProviderWithAuth>
    </AuthlaneProvider>
  );
}

export function WithOptions() {
  return (
    <AuthlaneProvider options={{ fetchAccessToken: () => "a.b.c" }}>
      <ConvexProvider client={auth.wrap(convex)}>
        <Profile />
      </ConvexProvider>
    </AuthlaneProvider>
  );
}

export function UseAuthWithExplicitSession() {
  const { isLoading, isAuthenticated, fetchAccessToken } = useAuthFromAuthlane(auth);
  const token: Promise<string | null> = fetchAccessToken({ forceRefreshToken: false });
  void token;
  return <>{String(isLoading && isAuthenticated)}</>;
}

// @ts-expect-error the provider takes an auth or options
export const missingSource = <AuthlaneProvider>x</AuthlaneProvider>;
// @ts-expect-error options need fetchAccessToken
export const badOptions = <AuthlaneProvider options={{ refreshLeewaySeconds: 1 }}>x</AuthlaneProvider>;
export const snapshotType = (snapshot: AuthSnapshot) => snapshot.isAuthenticated;
