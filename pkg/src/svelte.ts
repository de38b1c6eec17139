// authlane/svelte: Svelte 5 bindings. They hold no auth state of their own: every field reads
// `auth.getState()`, and Svelte hears of changes through `auth.subscribe()` (createSubscriber for
// runes, the store contract for `$session`). Plain TypeScript: nothing here needs the Svelte compiler.
import { getContext, onDestroy, setContext } from "svelte";
import { createSubscriber } from "svelte/reactivity";
import type { Readable } from "svelte/store";
import { createAuth, LOADING_SNAPSHOT, type Auth, type AuthOptions, type AuthSnapshot, type AuthStatus } from "./index.js";

const CONTEXT_KEY = Symbol.for("authlane");

/** What the session reads while it has no `Auth`: on the server, where nothing is created. */
const NO_SESSION: AuthSnapshot = LOADING_SNAPSHOT;

/**
 * Reactive in runes (`session.isAuthenticated` in markup, `$derived`, `$effect`) and a readable
 * store of the snapshot (`$session.isAuthenticated`). Every read goes to the core.
 */
export interface AuthlaneSession extends Readable<AuthSnapshot> {
  readonly status: AuthStatus;
  readonly isLoading: boolean;
  readonly isAuthenticated: boolean;
  readonly claims: AuthSnapshot["claims"];
  readonly error: AuthSnapshot["error"];
  /** `auth.getToken`; resolves `null` on the server. */
  getToken(options?: { forceRefresh?: boolean }): Promise<string | null>;
  /** `auth.signOut`; does nothing on the server. */
  signOut(): Promise<void>;
  /** The session itself (to `wrap` a client, say), or `null` on the server. */
  readonly auth: Auth | null;
}

function isAuth(value: Auth | AuthOptions): value is Auth {
  return typeof (value as Auth).getState === "function" && typeof (value as Auth).subscribe === "function";
}

function sessionOf(auth: Auth | null): AuthlaneSession {
  const track = createSubscriber((update) => (auth ? auth.subscribe(update) : undefined));
  const read = (): AuthSnapshot => {
    track();
    return auth ? auth.getState() : NO_SESSION;
  };
  return {
    get status() {
      return read().status;
    },
    get isLoading() {
      return read().isLoading;
    },
    get isAuthenticated() {
      return read().isAuthenticated;
    },
    get claims() {
      return read().claims;
    },
    get error() {
      return read().error;
    },
    getToken: (options) => (auth ? auth.getToken(options) : Promise.resolve(null)),
    signOut: () => (auth ? auth.signOut() : Promise.resolve()),
    auth,
    subscribe(run) {
      run(auth ? auth.getState() : NO_SESSION);
      if (!auth) return () => {};
      return auth.subscribe(() => run(auth.getState()));
    },
  };
}

/**
 * Call during a component's initialisation (usually the root layout): puts a session in context for
 * `getAuthlane()` in this component and its descendants, and returns it.
 *
 * Given `options`, it creates the session in the browser only (on the server nothing is created and
 * the session reads `loading`) and disposes it when this component is destroyed. Given an `Auth` you
 * created, it uses it and leaves disposing it to you.
 */
export function setupAuthlane(source: AuthOptions | Auth): AuthlaneSession {
  let auth: Auth | null;
  if (isAuth(source)) auth = source;
  else if (typeof window === "undefined") auth = null;
  else {
    let owned: Auth | null = null;
    onDestroy(() => owned?.dispose());
    auth = owned = createAuth(source);
  }
  const session = sessionOf(auth);
  setContext(CONTEXT_KEY, session);
  return session;
}

/** The session `setupAuthlane` put in context. Call during a component's initialisation. */
export function getAuthlane(): AuthlaneSession {
  const session = getContext<AuthlaneSession | undefined>(CONTEXT_KEY);
  if (!session) throw new Error("getAuthlane() found no session: call setupAuthlane() in a parent component first");
  return session;
}
