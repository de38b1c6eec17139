// createAuth: the JavaScript owner of one wasm session. It keeps what only JavaScript can hold
// (promises, listeners, the operations the gate holds) and forwards every decision to the core.
import { AuthlaneError, ErrorCodes, type AuthlaneErrorCode } from "./errors.js";
import { createLogger, type TraceEvent } from "./log.js";
import { isWasmLoaded, loadWasm, WasmSession } from "./wasm.js";
import { wrapClient, type ConvexLikeClient, type SessionPort, TokenNeed } from "./wrap.js";
import { SESSION_PORT, type PortAccess } from "./port.js";
import { hasuraClaims } from "./hasura.js";
import type { AuthStatus, Output } from "./protocol.js";

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
   * named "default"; give each app on one origin its own `name`. `false` turns it off entirely.
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
}

/** Turns a refused token into one token-free log line and its reason code (see `authlane/diagnostics`). */
export type RefusalExplainer = (token: string) => { line: string; code: string | null };

export interface TokenStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

function crossTabName(option: AuthOptions["crossTab"]): string | undefined {
  if (option === false) return undefined;
  const name = typeof option === "object" ? option.name : undefined;
  return name && name.length > 0 ? name : "default";
}

export type { AuthStatus };

/** Registered claims of the current token (decoded, not verified). Times are in seconds. */
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
  /** Wires a Convex-like client's `setAuth`/`clearAuth` and gates its operations; returns a client with the same API. */
  wrap<C extends ConvexLikeClient>(client: C): C;
  /** Drops the token everywhere in this session and clears wrapped clients' auth. Does not sign out of your provider. */
  signOut(): Promise<void>;
  /** Stops timers and listeners; pending calls fail with `disposed`. */
  dispose(): void;
  /** Resolves once the WebAssembly module is loaded and the session started. */
  readonly ready: Promise<void>;
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

function inBrowser(): boolean {
  return typeof window !== "undefined" && typeof document !== "undefined";
}

function reportListenerError(error: unknown): void {
  console.error("[authlane] a listener threw:", error);
}

export function createAuth(options: AuthOptions): Auth {
  if (typeof options?.fetchAccessToken !== "function") {
    throw new TypeError("createAuth: options.fetchAccessToken must be a function");
  }
  const expectAuth = options.expectAuth ?? false;
  const log = createLogger(options.verbose, options.onTrace);
  const listeners = new Set<() => void>();
  const tokenChangeListeners = new Set<(generation: number) => void>();
  const statusListeners = new Set<(status: AuthStatus) => void>();
  const waiters = new Map<number, TokenWaiter>();
  const heldOperations = new Map<number, HeldOperation>();
  /** Operation ids submitted before the session existed, in call order. */
  const heldBeforeReady: number[] = [];
  let session: WasmSession | null = null;
  let snapshot = LOADING_SNAPSHOT;
  let disposed = false;
  let nextWaiter = 1;
  let nextOperation = 1;
  let clientAttached = false;

  const setSnapshot = (next: AuthSnapshot) => {
    if (next === snapshot) return;
    snapshot = next;
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch (error) {
        reportListenerError(error);
      }
    }
  };

  const claimsNow = (): TokenClaims | null => {
    const claims = (session?.claims() as TokenClaims | null) ?? null;
    if (claims) claims.hasura = hasuraClaims(session?.token());
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
            reportListenerError(thrown);
          }
        }
        break;
      }
      case "token_changed": {
        const claims = claimsNow();
        const previous = snapshot.claims;
        // A refresh of the same identity is not a change listeners should hear about.
        if (snapshot.isAuthenticated && (claims?.sub !== previous?.sub || claims?.iss !== previous?.iss)) {
          setSnapshot(snapshotOf("authenticated", claims, null));
        }
        for (const listener of [...tokenChangeListeners]) listener(output.generation);
        break;
      }
      case "state": {
        const error = output.code ? new AuthlaneError(output.code, output.detail ?? "") : null;
        log.state(output.status, error);
        setSnapshot(snapshotOf(output.status, claimsNow(), error));
        for (const listener of [...statusListeners]) listener(output.status);
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
    const current = session;
    if (!options.diagnostics || !log.listening || !current || current.generation() !== generation) return;
    const token = current.token();
    if (!token) return;
    try {
      const { line, code } = options.diagnostics(token);
      log.explained(line, code);
    } catch (error) {
      reportListenerError(error);
    }
  };

  const settleWithoutSession = (error: AuthlaneError) => {
    setSnapshot(snapshotOf("unauthenticated", null, error));
    for (const waiter of waiters.values()) waiter.reject(error);
    waiters.clear();
    const runHeld = (options.signedOutOperations ?? "run") === "run";
    for (const id of heldBeforeReady.splice(0)) {
      const operation = heldOperations.get(id);
      heldOperations.delete(id);
      if (runHeld) operation?.release();
      else operation?.reject(error);
    }
  };

  const ready: Promise<void> = !inBrowser()
    ? new Promise<void>(() => {
        // On the server there is nothing to load and nothing to wait for: stay loading.
      })
    : loadWasm().then(
        () => {
          if (disposed) return;
          session = new WasmSession(
            options.fetchAccessToken,
            onOutput,
            (options.refreshLeewaySeconds ?? 10) * 1000,
            expectAuth,
            options.signedOutOperations === "reject",
            options.fetchTimeoutMs ?? 30_000,
            crossTabName(options.crossTab),
            (typeof options.crossTab === "object" && options.crossTab.lockTimeoutMs) || 10_000,
            options.storage ?? "memory",
          );
          if (clientAttached) session.attachClient();
          // Operations called before the module loaded go to the gate now, in call order.
          for (const id of heldBeforeReady.splice(0)) {
            if (session.submitOperation(id)) {
              const operation = heldOperations.get(id);
              heldOperations.delete(id);
              operation?.release();
            }
          }
          session.start();
          for (const request of pendingRequests.splice(0)) request();
        },
        (error: AuthlaneError) => {
          if (!disposed) settleWithoutSession(error);
        },
      );
  // Callers that never await `ready` must not see an unhandled rejection.
  ready.catch(() => {});
  const pendingRequests: Array<() => void> = [];

  const port: SessionPort = {
    attachClient() {
      clientAttached = true;
      session?.attachClient();
    },
    requestToken(need: TokenNeed, held: number) {
      if (disposed) return Promise.reject(new AuthlaneError(ErrorCodes.Disposed, "the session was disposed"));
      if (!inBrowser()) return Promise.resolve({ token: null, generation: 0 });
      return new Promise((resolve, reject) => {
        const id = nextWaiter++;
        waiters.set(id, { resolve, reject });
        const send = () => session?.requestToken(id, need, held);
        if (session) send();
        else pendingRequests.push(send);
      });
    },
    serverVerdict(generation: number, accepted: boolean) {
      if (generation > 0 && !accepted) explainRefusal(generation);
      if (generation > 0) session?.serverVerdict(generation, accepted);
    },
    submitOperation(operation: HeldOperation): { held: boolean; id: number } {
      const id = nextOperation++;
      let runNow: boolean;
      if (session) runNow = session.submitOperation(id);
      else if (disposed || !expectAuth || snapshot.status === "unauthenticated") runNow = true;
      else {
        heldBeforeReady.push(id);
        runNow = false;
      }
      if (!runNow) heldOperations.set(id, operation);
      return { held: !runNow, id };
    },
    cancelOperation(id: number) {
      heldOperations.delete(id);
      const index = heldBeforeReady.indexOf(id);
      if (index >= 0) heldBeforeReady.splice(index, 1);
      session?.cancelOperation(id);
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
  };

  const auth: Auth = {
    ready,
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
      return wrapClient(port, client);
    },
    async signOut() {
      if (session) session.signOut();
      else if (!disposed && inBrowser()) await ready.then(() => session?.signOut());
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      const ending = session;
      session = null;
      ending?.dispose();
      // Freed after the current call stack: dispose() may run inside a callback from this very session.
      if (ending) queueMicrotask(() => ending.free());
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
  const access: PortAccess = { port, expectAuth };
  Object.defineProperty(auth, SESSION_PORT, { value: access });
  return auth;
}

export function assertWasmLoaded(): void {
  if (!isWasmLoaded()) {
    throw new AuthlaneError(ErrorCodes.NotInitialized, "authlane's WebAssembly module is not loaded yet: await auth.ready or loadAuthlane() first");
  }
}
