// createAuth: the JavaScript owner of one wasm session. It keeps what only JavaScript can hold
// (promises, listeners, the operations the gate holds) and forwards every decision to the core.
import { AuthlaneError, ErrorCodes, type AuthlaneErrorCode } from "./errors.js";
import { createLogger, createThrowReporter, type TraceEvent } from "./log.js";
import { resolveOptions } from "./options.js";
import { intoWasm, isWasmLoaded, loadWasm, moduleTrap, watchTraps, WasmSession } from "./wasm.js";
import { unwrapClient, wrapClient, type ConvexLikeClient, type SessionPort } from "./wrap.js";
import { SESSION_PORT, type PortAccess } from "./port.js";
import { hasuraClaims } from "./hasura.js";
import { backendAddress, crossTabName } from "./app-name.js";
import { startHead, type HeadStart } from "./head-start.js";
import { Input, TokenNeed, type AuthStatus, type Output } from "./protocol.js";

/** The app's token source, with convex-js's contract: a JWT, or `null`/`undefined` when signed out. */
export type FetchAccessToken = (args: {
  forceRefreshToken: boolean;
}) => Promise<string | null | undefined> | string | null | undefined;

export interface AuthOptions {
  fetchAccessToken: FetchAccessToken;
  /** Refresh this many seconds before the token's estimated expiry. Default 10. */
  refreshLeewaySeconds?: number;
  /** Hold operations on wrapped clients until the server has accepted the first token. Default false. */
  expectAuth?: boolean;
  /** What held operations do when auth settles as signed out: run unauthenticated (default) or reject. */
  signedOutOperations?: "run" | "reject";
  /** A callback that has not settled after this long counts as failed. Default 30000. */
  fetchTimeoutMs?: number;
  /** Log the lifecycle (tokens redacted to their last 6 characters): `true` for console.debug, or a sink. */
  verbose?: boolean | ((line: string) => void);
  /** Receives every timeline event (fetches, refreshes, verdicts, gate holds and releases). */
  onTrace?: (event: TraceEvent) => void;
  /**
   * Make this origin's tabs act as one client: one refresh for all (under a Web Lock, or a
   * localStorage lease), tokens shared over BroadcastChannel, sign-out everywhere. Default on,
   * named after the backend (the address of a client wrapped before the session starts, else the
   * callback's source), so sessions of different backends never share; a `name` makes every
   * session that gives it share. `false` turns it off entirely.
   * `lockTimeoutMs` (10000): waiting longer steals the lock from a frozen holder; holding it
   * longer releases it.
   */
  crossTab?: boolean | { name?: string; lockTimeoutMs?: number };
  /**
   * Where to keep the token across reloads: `"memory"` (default: nowhere), `"session"`,
   * `"local"`, or your own `{ getItem, setItem, removeItem }` (sync or async). Namespaced by the
   * cross-tab name.
   */
  storage?: "memory" | "session" | "local" | TokenStorage;
  /**
   * Explains every token the server refuses, in verbose mode and as an `onTrace` `token_explained`
   * event: pass `explainRefusals(authConfig)` from `authlane/diagnostics` (kept out of this bundle).
   */
  diagnostics?: RefusalExplainer;
  /**
   * The user's token as the server already had it (a cookie read in a server component or a
   * SvelteKit `load`), rendered into the page: taken at start with the checks a token from another
   * tab gets, so the session starts authenticated with no `fetchAccessToken` call. One that is not a
   * JWT, has no `exp`, has less than `refreshLeewaySeconds` left or predates a sign-out is ignored
   * (an `initial_token_ignored` trace) and the session fetches as usual. Short-lived tokens only, and
   * never cache a page carrying one publicly (README, "A token from the server").
   */
  initialToken?: string | null;
}

/** Turns a refused token into one token-free log line and its reason code (see `authlane/diagnostics`). */
export type RefusalExplainer = (token: string) => { line: string; code: string | null };

export interface TokenStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

export type { AuthStatus };

/**
 * Registered claims of the current token (decoded, not verified). Times are in seconds. A refresh
 * that changes only `exp`/`iat`/`nbf` keeps the snapshot (and these times) as they were; any other
 * change of claims makes a new snapshot.
 */
export interface TokenClaims {
  iss: string | null;
  sub: string | null;
  aud: string[];
  exp: number | null;
  iat: number | null;
  nbf: number | null;
  /** Hasura's `https://hasura.io/jwt/claims` object (also from its stringified-JSON format), or `null`. */
  hasura: Record<string, unknown> | null;
}

/** An immutable snapshot; the same object is returned until something changes. */
export interface AuthSnapshot {
  status: AuthStatus;
  isLoading: boolean;
  isAuthenticated: boolean;
  claims: TokenClaims | null;
  error: AuthlaneError | null;
}

export interface Auth {
  getState(): AuthSnapshot;
  /** Called on every real change of `getState()`; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** A fresh token (fetched if the cached one is due), or `null` when signed out. Throws `AuthlaneError`. */
  getToken(options?: { forceRefresh?: boolean }): Promise<string | null>;
  /**
   * Wires a Convex-like client's `setAuth`/`clearAuth` and gates its operations; returns a client with
   * the same API. Wrapping the same client again (or the returned one) is a no-op returning the same wrapped client.
   */
  wrap<C extends ConvexLikeClient>(client: C): C;
  /**
   * Lets go of a wrapped client (pass it or its wrapped version): stops handing it tokens, clears its
   * auth, runs operations still held for it. Returns false if it was not wrapped by this session.
   */
  unwrap(client: ConvexLikeClient): boolean;
  /** Drops the token everywhere in this session and clears wrapped clients' auth. Does not sign out of your provider. */
  signOut(): Promise<void>;
  /** Stops timers and listeners; pending calls fail with `disposed`. */
  dispose(): void;
  /**
   * Resolves once the WebAssembly module is loaded and the session started (calls made earlier
   * wait for it); rejects with `wasm_load_failed` or `internal_error`. On the server it resolves at
   * once: there is nothing to load. The first status may still be `loading`: await `settled` for that.
   */
  readonly ready: Promise<void>;
  /**
   * Resolves with the first settled snapshot: `authenticated` or `unauthenticated` (with `error` when
   * the session failed). Never rejects. On the server it resolves at once with the `loading` snapshot.
   */
  readonly settled: Promise<AuthSnapshot>;
}

interface HeldOperation {
  release(): void;
  reject(error: AuthlaneError): void;
}

interface TokenWaiter {
  resolve(result: { token: string | null; generation: number }): void;
  reject(error: AuthlaneError): void;
}

/** The state before a session has settled, or exists at all (bindings read it on the server). */
export const LOADING_SNAPSHOT: AuthSnapshot = Object.freeze({
  status: "loading",
  isLoading: true,
  isAuthenticated: false,
  claims: null,
  error: null,
});

function snapshotOf(status: AuthStatus, claims: TokenClaims | null, error: AuthlaneError | null): AuthSnapshot {
  return Object.freeze({
    status,
    isLoading: status === "loading",
    isAuthenticated: status === "authenticated",
    claims: status === "authenticated" ? claims : null,
    error,
  });
}

/** What a claims change is judged by: everything but the times a refresh always moves. */
function claimsKey(claims: TokenClaims | null): string {
  return claims ? JSON.stringify([claims.iss, claims.sub, claims.aud, claims.hasura]) : "";
}

function inBrowser(): boolean {
  return typeof window !== "undefined" && typeof document !== "undefined";
}

/** Calls every listener; one that throws is reported and the others still run. */
function callEach<A extends unknown[]>(listeners: Iterable<(...args: A) => void>, args: A, onThrow: (error: unknown) => void): void {
  for (const listener of [...listeners]) {
    try {
      listener(...args);
    } catch (error) {
      onThrow(error);
    }
  }
}

/**
 * Creates a session. Throws `AuthlaneError` `invalid_argument` at once for a wrong option; everything
 * after that settles: a module that fails to load or traps fails the session with its error.
 */
export function createAuth(options: AuthOptions): Auth {
  const resolved = resolveOptions(options);
  const { expectAuth } = resolved;
  const report = createThrowReporter();
  const reportListenerError = (error: unknown) => report("a subscribe listener", error);
  const reportClientError = (error: unknown) => report("a wrapped client's setAuth or clearAuth", error);
  const log = createLogger(resolved.verbose, resolved.onTrace, report);
  const listeners = new Set<() => void>();
  const tokenChangeListeners = new Set<(generation: number) => void>();
  const statusListeners = new Set<(status: AuthStatus) => void>();
  const waiters = new Map<number, TokenWaiter>();
  const heldOperations = new Map<number, HeldOperation>();
  /** Operation ids submitted before the session existed, in call order. */
  const heldBeforeReady: number[] = [];
  /** Token requests made before the session existed. */
  const pendingRequests: Array<() => void> = [];
  let session: WasmSession | null = null;
  let snapshot = LOADING_SNAPSHOT;
  let disposed = false;
  /** Set when the module failed to load or trapped: every call settles with it from then on. */
  let failure: AuthlaneError | null = null;
  let nextWaiter = 1;
  let nextOperation = 1;
  /** Clients reporting verdicts (wrapped clients, graphql-ws sockets), replayed to a late session. */
  let attachedClients = 0;
  /** The address of the first client wrapped before the app's name was fixed: names it by default. */
  let backend: string | undefined;
  /** The cross-tab name (also the storage key's), fixed at its first use: the head start's or the session's. */
  let name: string | null = null;
  const appName = () =>
    (name ??= crossTabName(resolved.crossTab?.name ?? null, { address: backend, fetchAccessToken: resolved.fetchAccessToken }));
  /** Peers heard, the lock taken and the first fetch begun while the module loads (head-start.ts). */
  let headStart: HeadStart | null = null;
  // A microtask later, so that a client wrapped right after `createAuth` names the app (app-name.ts).
  // Not with a rendered token: the core judges it first, and an early fetch would make it moot.
  if (inBrowser() && resolved.crossTab && !resolved.initialToken) {
    const { lockTimeoutMs } = resolved.crossTab;
    queueMicrotask(() => {
      if (disposed || session || failure) return;
      headStart = startHead(appName(), lockTimeoutMs, resolved.storage === "memory", resolved.fetchAccessToken);
    });
  }

  let settle: (first: AuthSnapshot) => void = () => {};
  const settled = new Promise<AuthSnapshot>((resolve) => (settle = resolve));
  const setSnapshot = (next: AuthSnapshot) => {
    if (next === snapshot) return;
    snapshot = next;
    if (!next.isLoading) settle(next);
    callEach(listeners, [], reportListenerError);
  };

  /**
   * Every call into the session goes through here: a trap fails this session and, through the
   * shared module, every other one (`undefined` is returned then; the failure has settled all).
   */
  const use = <T>(call: (current: WasmSession) => T): T | undefined => {
    const current = session;
    if (!current) return undefined;
    try {
      return intoWasm(() => call(current));
    } catch (error) {
      fail(error instanceof AuthlaneError ? error : new AuthlaneError(ErrorCodes.InternalError, `authlane's session failed: ${error}`));
      return undefined;
    }
  };
  /** One of the session's small inputs (`Input` in protocol.ts): true when it answers yes. */
  const input = (kind: Input, value = 0, flag = false) => use((current) => current.input(kind, value, flag));

  const claimsNow = (): TokenClaims | null => {
    const claims = (use((current) => current.claims()) as TokenClaims | null | undefined) ?? null;
    if (claims) claims.hasura = hasuraClaims(use((current) => current.token()));
    return claims;
  };

  const onOutput = (output: Output) => {
    switch (output.kind) {
      case "token": {
        const waiter = waiters.get(output.waiter);
        waiters.delete(output.waiter);
        waiter?.resolve({ token: output.token, generation: output.generation });
        break;
      }
      case "token_error": {
        const waiter = waiters.get(output.waiter);
        waiters.delete(output.waiter);
        waiter?.reject(new AuthlaneError(output.code, output.detail));
        break;
      }
      case "release":
      case "reject": {
        const error = output.kind === "reject" ? new AuthlaneError(output.code, output.detail) : null;
        for (const id of output.operations) {
          const operation = heldOperations.get(id);
          heldOperations.delete(id);
          if (!operation) continue;
          try {
            if (error) operation.reject(error);
            else operation.release();
          } catch (thrown) {
            report("a held operation", thrown);
          }
        }
        break;
      }
      case "token_changed": {
        const claims = claimsNow();
        // A plain refresh (only exp/iat/nbf moved) is not a change listeners should hear about;
        // a new identity, audience or role claims is.
        if (snapshot.isAuthenticated && claimsKey(claims) !== claimsKey(snapshot.claims)) {
          setSnapshot(snapshotOf("authenticated", claims, null));
        }
        callEach(tokenChangeListeners, [output.generation], reportClientError);
        break;
      }
      case "state": {
        const error = output.code ? new AuthlaneError(output.code, output.detail ?? "") : null;
        log.state(output.status, error);
        setSnapshot(snapshotOf(output.status, claimsNow(), error));
        callEach(statusListeners, [output.status], reportClientError);
        break;
      }
      case "trace":
        log.trace(output.event, output.tokenTail, output.value, output.code, output.detail);
        break;
      default:
        // An output kind added in Rust and src/protocol.ts but not handled here fails to compile.
        output satisfies never;
    }
  };

  /** Diagnostics for a refused token: only when configured, heard, and the token is still current. */
  const explainRefusal = (generation: number) => {
    const explain = resolved.diagnostics;
    if (!explain || !log.listening || use((current) => current.generation()) !== generation) return;
    const token = use((current) => current.token());
    if (!token) return;
    try {
      const { line, code } = explain(token);
      log.explained(line, code);
    } catch (error) {
      report("diagnostics", error);
    }
  };

  /** Frees a session without letting a dead module's trap escape (free also unregisters its finalizer). */
  const release = (ending: WasmSession) => {
    try {
      ending.free();
    } catch {
      // The module trapped: there is nothing left to free.
    }
  };

  /**
   * The module failed to load or trapped: the session is over. Everything pending settles with
   * the error, held operations reject (they were waiting for auth that will not come), the state
   * says why, and wrapped clients hear "unauthenticated" and clear their auth.
   */
  const fail = (error: AuthlaneError) => {
    if (failure || disposed) return;
    failure = error;
    headStart?.cancel();
    const ending = session;
    session = null;
    // Later: this may run inside a call from that very session.
    if (ending) queueMicrotask(() => release(ending));
    stopWatchingTraps();
    pendingRequests.length = 0;
    heldBeforeReady.length = 0;
    for (const waiter of waiters.values()) waiter.reject(error);
    waiters.clear();
    const held = [...heldOperations.values()];
    heldOperations.clear();
    for (const operation of held) {
      try {
        operation.reject(error);
      } catch (thrown) {
        report("a held operation", thrown);
      }
    }
    log.state("unauthenticated", error);
    setSnapshot(snapshotOf("unauthenticated", null, error));
    callEach(statusListeners, ["unauthenticated"], reportClientError);
  };
  const stopWatchingTraps = inBrowser()
    ? watchTraps({ probe: () => session?.generation(), trapped: fail })
    : () => false;

  // On the server there is nothing to load: the session stays loading, and both promises say so at once.
  if (!inBrowser()) settle(LOADING_SNAPSHOT);
  const ready: Promise<void> = !inBrowser()
    ? Promise.resolve()
    : loadWasm().then(
        () => {
          if (disposed) return;
          const trap = moduleTrap();
          if (trap) {
            fail(trap);
            throw trap;
          }
          const earlyMessages = headStart?.takeMessages() ?? [];
          const backdate = (startedAt: number) => input(Input.BackdateFetch, startedAt) === true;
          try {
            session = intoWasm(
              () =>
                new WasmSession(
                  headStart ? headStart.fetchAccessToken(backdate) : resolved.fetchAccessToken,
                  onOutput,
                  resolved.refreshLeewayMs,
                  expectAuth,
                  resolved.signedOutOperations === "reject",
                  resolved.fetchTimeoutMs,
                  resolved.crossTab !== null,
                  appName(),
                  resolved.crossTab?.lockTimeoutMs ?? 0,
                  resolved.storage,
                  headStart?.lock,
                ),
            );
          } catch (error) {
            const failed = error instanceof AuthlaneError ? error : new AuthlaneError(ErrorCodes.InternalError, `authlane's session could not start: ${error}`);
            fail(failed);
            throw failed;
          }
          for (let i = 0; i < attachedClients; i++) input(Input.AttachClient);
          // Operations called before the module loaded go to the gate now, in call order.
          for (const id of heldBeforeReady.splice(0)) {
            if (input(Input.SubmitOperation, id)) {
              const operation = heldOperations.get(id);
              heldOperations.delete(id);
              operation?.release();
            }
          }
          // Peers heard while the module loaded, after the recorded sign-out (recalled at construction).
          for (const message of earlyMessages) use((current) => current.peerMessage(message));
          use((current) => current.start(resolved.initialToken));
          headStart?.started();
          for (const request of pendingRequests.splice(0)) request();
          if (failure) throw failure;
        },
        (error: AuthlaneError) => {
          if (!disposed) fail(error);
          throw error;
        },
      );
  // Callers that never await `ready` must not see an unhandled rejection.
  ready.catch(() => {});

  const port: SessionPort = {
    attachClient() {
      attachedClients++;
      input(Input.AttachClient);
    },
    detachClient() {
      attachedClients--;
      input(Input.DetachClient);
    },
    requestToken(need: TokenNeed, held: number) {
      if (disposed) return Promise.reject(new AuthlaneError(ErrorCodes.Disposed, "the session was disposed"));
      if (failure) return Promise.reject(failure);
      if (!inBrowser()) return Promise.resolve({ token: null, generation: 0 });
      return new Promise((resolve, reject) => {
        const id = nextWaiter++;
        waiters.set(id, { resolve, reject });
        const send = () => use((current) => current.requestToken(id, need, held));
        if (session) send();
        else pendingRequests.push(send);
      });
    },
    serverVerdict(generation: number, accepted: boolean) {
      if (generation > 0 && !accepted) explainRefusal(generation);
      if (generation > 0) input(Input.ServerVerdict, generation, accepted);
    },
    submitOperation(operation: HeldOperation): { held: boolean; id: number } {
      const id = nextOperation++;
      let runNow: boolean | undefined;
      if (session) runNow = input(Input.SubmitOperation, id);
      else if (disposed || !expectAuth) runNow = true;
      else if (!failure) {
        heldBeforeReady.push(id);
        runNow = false;
      }
      if (failure && !disposed) {
        // No auth will come: operations gated on it fail with the reason; ungated ones run.
        if (!expectAuth) return { held: false, id };
        operation.reject(failure);
        return { held: true, id };
      }
      if (!runNow) heldOperations.set(id, operation);
      return { held: !runNow, id };
    },
    cancelOperation(id: number) {
      heldOperations.delete(id);
      const index = heldBeforeReady.indexOf(id);
      if (index >= 0) heldBeforeReady.splice(index, 1);
      input(Input.CancelOperation, id);
    },
    onTokenChanged(listener) {
      tokenChangeListeners.add(listener);
      return () => tokenChangeListeners.delete(listener);
    },
    onStatusChanged(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    status: () => snapshot.status,
    signedOutRuns: resolved.signedOutOperations === "run",
  };

  const auth: Auth = {
    ready,
    settled,
    getState: () => snapshot,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async getToken(request) {
      const need = request?.forceRefresh ? TokenNeed.Forced : TokenNeed.Current;
      const { token } = await port.requestToken(need, 0);
      return token;
    },
    wrap(client) {
      if (name === null) backend ??= backendAddress(client);
      return wrapClient(port, client);
    },
    unwrap(client) {
      return unwrapClient(port, client);
    },
    async signOut() {
      if (!session && !disposed && !failure && inBrowser()) await ready;
      input(Input.SignOut);
      if (failure) throw failure;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      stopWatchingTraps();
      headStart?.cancel();
      const ending = session;
      session = null;
      if (ending && !moduleTrap()) {
        try {
          intoWasm(() => ending.dispose());
        } catch {
          // A trap: reported to every session already; this one settles below all the same.
        }
      }
      // Freed after the current call stack: dispose() may run inside a callback from this very session.
      if (ending) queueMicrotask(() => release(ending));
      const error = new AuthlaneError(ErrorCodes.Disposed, "the session was disposed");
      for (const waiter of waiters.values()) waiter.reject(error);
      waiters.clear();
      for (const operation of heldOperations.values()) operation.reject(error);
      heldOperations.clear();
      listeners.clear();
      tokenChangeListeners.clear();
      statusListeners.clear();
    },
  };
  // For the adapters of other entries (authlane/graphql-ws); not part of the typed API.
  const access: PortAccess = { port, expectAuth, refreshLeewayMs: (options.refreshLeewaySeconds ?? 10) * 1000 };
  Object.defineProperty(auth, SESSION_PORT, { value: access });
  return auth;
}

export function assertWasmLoaded(): void {
  if (!isWasmLoaded()) {
    throw new AuthlaneError(ErrorCodes.NotInitialized, "authlane's WebAssembly module is not loaded yet: await auth.ready or loadAuthlane() first");
  }
}
