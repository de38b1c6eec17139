// authlane/react: React 18 and 19 bindings. They hold no auth state of their own: every read is
// `auth.getState()` through useSyncExternalStore, every change comes from `auth.subscribe()`.
// Plain createElement (no JSX) so the file needs no JSX setting and pulls in no jsx-runtime.
"use client"; // React Server Components may import the providers; the hooks run on the client only.
import {
  createContext,
  createElement,
  Fragment,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactElement,
  type ReactNode,
} from "react";
import { createAuth, LOADING_SNAPSHOT, type Auth, type AuthOptions, type AuthSnapshot, type AuthStatus } from "./index.js";
import { convexTokenSource } from "./convex-token.js";

/** What the bindings read before a session exists: on the server, and in the first render of a provider given `options`. */
const NO_SESSION: AuthSnapshot = LOADING_SNAPSHOT;

/** `undefined`: no provider above. `null`: a provider whose session does not exist yet. */
const AuthlaneContext = createContext<Auth | null | undefined>(undefined);

export type AuthlaneProviderProps =
  | { auth: Auth; options?: undefined; children?: ReactNode }
  | { options: AuthOptions; auth?: undefined; children?: ReactNode };

/**
 * Puts a session in context for `useAuthlane`, `useAuthFromAuthlane` and the gate components.
 *
 * `auth` (preferred): a session you created with `createAuth`; you own it (the provider never
 * disposes it), and it can also `wrap` your Convex client.
 *
 * `options`: the provider creates the session itself. Creation happens in an effect, never during
 * render, so a render React throws away (StrictMode's double render, a suspended or interrupted
 * render, the server) never starts a session nobody disposes; on the server nothing is created. The
 * options are read once, when the session is created. The session is created once per provider
 * instance: StrictMode's simulated unmount (effect cleanup and immediate re-run in the same task)
 * keeps it, because disposal is deferred by a microtask and cancelled by the re-run. On a real unmount
 * it is disposed a microtask later; if the effect runs again after that (e.g. an `<Activity>` shown
 * again), a new session replaces the disposed one, so a disposed session is never left in use.
 * Until the effect has run, the children read `loading`.
 */
export function AuthlaneProvider(props: AuthlaneProviderProps): ReactElement {
  const owned = useOwnedAuth(props.auth ? undefined : props.options);
  return createElement(AuthlaneContext.Provider, { value: props.auth ?? owned }, props.children);
}

interface OwnedAuth {
  auth: Auth;
  /** False between an effect cleanup and the deferred disposal it scheduled. */
  inUse: boolean;
  disposed: boolean;
}

function useOwnedAuth(options: AuthOptions | undefined): Auth | null {
  const enabled = options !== undefined;
  const [auth, setAuth] = useState<Auth | null>(null);
  const owned = useRef<OwnedAuth | null>(null);
  useEffect(() => {
    if (!options) return;
    let entry = owned.current;
    if (!entry || entry.disposed) {
      entry = { auth: createAuth(options), inUse: true, disposed: false };
      owned.current = entry;
    }
    entry.inUse = true;
    setAuth(entry.auth);
    const current = entry;
    return () => {
      current.inUse = false;
      queueMicrotask(() => {
        if (current.inUse || current.disposed) return;
        current.disposed = true;
        current.auth.dispose();
      });
    };
    // Not [options]: the options are read once, at creation (like useState's initial value).
  }, [enabled]);
  return enabled ? auth : null;
}

function useContextAuth(user: string): Auth | null {
  const auth = useContext(AuthlaneContext);
  if (auth === undefined) throw new Error(`${user} must be used inside <AuthlaneProvider>`);
  return auth;
}

const noSubscription = () => () => {};

/** The session's snapshot, or `loading` while there is no session (and during hydration). */
function useSnapshot(auth: Auth | null): AuthSnapshot {
  const subscribe = useCallback((listener: () => void) => (auth ? auth.subscribe(listener) : noSubscription()), [auth]);
  const getSnapshot = useCallback(() => (auth ? auth.getState() : NO_SESSION), [auth]);
  return useSyncExternalStore(subscribe, getSnapshot, getServerSnapshot);
}

const getServerSnapshot = () => NO_SESSION;

function useStatus(auth: Auth | null): AuthStatus {
  const subscribe = useCallback((listener: () => void) => (auth ? auth.subscribe(listener) : noSubscription()), [auth]);
  const getStatus = useCallback(() => (auth ? auth.getState().status : "loading"), [auth]);
  return useSyncExternalStore(subscribe, getStatus, getServerStatus);
}

const getServerStatus = (): AuthStatus => "loading";

export interface AuthlaneValue {
  status: AuthStatus;
  isLoading: boolean;
  isAuthenticated: boolean;
  claims: AuthSnapshot["claims"];
  error: AuthSnapshot["error"];
  /** `auth.getToken`; resolves `null` while there is no session. Stable for a given session. */
  getToken: (options?: { forceRefresh?: boolean }) => Promise<string | null>;
  /** `auth.signOut`; does nothing while there is no session. Stable for a given session. */
  signOut: () => Promise<void>;
  /** The session itself, or `null` before it exists (server, first render with `options`). */
  auth: Auth | null;
}

/**
 * The session's state and actions. Re-renders only when `getState()` changes, which a background
 * refresh of the same user never does. The returned object keeps its identity until then.
 */
export function useAuthlane(): AuthlaneValue {
  const auth = useContextAuth("useAuthlane()");
  const snapshot = useSnapshot(auth);
  const getToken = useCallback(
    (options?: { forceRefresh?: boolean }) => (auth ? auth.getToken(options) : Promise.resolve(null)),
    [auth],
  );
  const signOut = useCallback(() => (auth ? auth.signOut() : Promise.resolve()), [auth]);
  return useMemo(
    () => ({
      status: snapshot.status,
      isLoading: snapshot.isLoading,
      isAuthenticated: snapshot.isAuthenticated,
      claims: snapshot.claims,
      error: snapshot.error,
      getToken,
      signOut,
      auth,
    }),
    [snapshot, getToken, signOut, auth],
  );
}

/** convex/react's `ConvexProviderWithAuth` `useAuth` contract. */
export interface ConvexUseAuthResult {
  isLoading: boolean;
  isAuthenticated: boolean;
  fetchAccessToken: (args: { forceRefreshToken: boolean }) => Promise<string | null>;
}

/**
 * The `useAuth` hook for convex/react's `ConvexProviderWithAuth`, for an unchanged Convex app:
 * `<ConvexProviderWithAuth client={convex} useAuth={useAuthFromAuthlane}>` inside
 * `<AuthlaneProvider>` (or call it with an `auth` from your own hook). Create the client with
 * `new ConvexReactClient(url, { expectAuth: true, initialAuthTokenReuse: true })`: `expectAuth`
 * holds queries until the first token is sent (the provider calls `setAuth` only once the session
 * is authenticated, so without it queries run signed out first), and `initialAuthTokenReuse`
 * keeps convex from forcing a second token as soon as the first is confirmed.
 *
 * `isLoading` lasts until the session has a token or has settled signed out. `fetchAccessToken`
 * is stable for a given session (convex re-runs `setAuth` when it changes). A forced request
 * (convex's refresh schedule, or a rejected token) is answered with the session's token when it
 * is newer than the one this client holds (authlane's own refresh, or another tab's); when there
 * is none and the session's refresh is due within 10 s, it waits for that refresh; otherwise the
 * session fetches. So all tabs together follow one tab's schedule; give convex's
 * `authRefreshTokenLeewaySeconds` a second or more above authlane's `refreshLeewaySeconds` so its
 * asks land just before the session's refresh. It answers `null` where the session fails:
 * convex-js does not catch a rejection from `fetchToken` (its socket would stay paused); the error
 * is still in `useAuthlane().error`.
 */
export function useAuthFromAuthlane(auth?: Auth): ConvexUseAuthResult {
  const contextAuth = useContext(AuthlaneContext);
  const target = auth ?? contextAuth;
  if (target === undefined) throw new Error("useAuthFromAuthlane() needs an `auth` argument or an <AuthlaneProvider> above");
  const status = useStatus(target);
  const source = useMemo(() => (target ? convexTokenSource(target) : null), [target]);
  useEffect(() => source?.listen(), [source]);
  const fetchAccessToken = useCallback(
    (args: { forceRefreshToken: boolean }) => (source ? source.fetchAccessToken(args) : Promise.resolve(null)),
    [source],
  );
  return useMemo(
    () => ({ isLoading: status === "loading", isAuthenticated: status === "authenticated", fetchAccessToken }),
    [status, fetchAccessToken],
  );
}

function useGate(status: AuthStatus, children: ReactNode): ReactElement | null {
  return useStatus(useContextAuth("<Authenticated>, <Unauthenticated> or <AuthLoading>")) === status
    ? createElement(Fragment, null, children)
    : null;
}

/** Renders its children while signed in. A background refresh does not change the status, so nothing flashes. */
export function Authenticated({ children }: { children?: ReactNode }): ReactElement | null {
  return useGate("authenticated", children);
}

/** Renders its children while signed out (or failed: see `useAuthlane().error`). */
export function Unauthenticated({ children }: { children?: ReactNode }): ReactElement | null {
  return useGate("unauthenticated", children);
}

/** Renders its children until the session has settled (and always on the server). */
export function AuthLoading({ children }: { children?: ReactNode }): ReactElement | null {
  return useGate("loading", children);
}
