// The adapter for Convex-like clients: it answers the client's fetchToken calls from the session,
// turns the client's onChange reports into server verdicts, pushes refreshed tokens, and routes
// operations through the expectAuth gate. One wrapping per client and session; unwrapClient undoes it.
import { TokenNeed } from "./protocol.js";
import type { AuthlaneError } from "./errors.js";

/** Anything with convex-js's auth surface: `setAuth(fetchToken, onChange)` and `clearAuth()`. */
export interface ConvexLikeClient {
  setAuth(
    fetchToken: (args: { forceRefreshToken: boolean }) => Promise<string | null | undefined>,
    onChange?: (isAuthenticated: boolean) => void,
  ): void;
  clearAuth(): void;
}


/** What the adapter needs from the session (implemented in auth.ts). */
export interface SessionPort {
  attachClient(): void;
  /** Undoes one `attachClient()`: that client no longer reports verdicts. */
  detachClient(): void;
  requestToken(need: TokenNeed, held: number): Promise<{ token: string | null; generation: number }>;
  serverVerdict(generation: number, accepted: boolean): void;
  submitOperation(operation: { release(): void; reject(error: AuthlaneError): void }): { held: boolean; id: number };
  cancelOperation(id: number): void;
  onTokenChanged(listener: (generation: number) => void): () => void;
  onStatusChanged(listener: (status: string) => void): () => void;
  status(): string;
  /**
   * Whether operations held for signed-out settling would run (`signedOutOperations: "run"`): only
   * then may a client that orders its token ahead of them have them early (`orderedToken`).
   */
  readonly signedOutRuns: boolean;
}

/**
 * The token a convex-js `ConvexClient` will present ahead of anything sent from now on, or
 * `undefined` for a client that cannot say. convex-js keeps its token in its local sync state,
 * sends it before any later query or mutation on the socket (and first again on every reconnect),
 * and a Convex server that refuses a token closes the socket before reading what follows it
 * (PROTOCOL.md, rule 5): an operation sent behind it runs with that identity or not at all.
 * `getAuth()` is ConvexClient's public reader of that state.
 */
function orderedToken(client: object): unknown {
  try {
    return (client as { getAuth?: () => { token?: unknown } | undefined }).getAuth?.()?.token;
  } catch {
    // A client whose reader throws cannot say: its operations wait for the acceptance.
  }
}

/** Methods returning a promise that the gate may hold. */
const PROMISE_OPERATIONS = new Set<PropertyKey>(["query", "mutation", "action"]);
/** Methods returning an unsubscribe function that the gate may hold. */
const SUBSCRIPTION_OPERATIONS = new Set<PropertyKey>(["onUpdate", "subscribe", "onPaginatedUpdate"]);

interface Held {
  release(): void;
  reject(error: AuthlaneError): void;
}

interface Wrapping {
  client: object;
  proxy: object;
  unwrap(): void;
}

/** Per session: each wrapped client, and each wrapped proxy, to its wrapping. */
const wrappings = new WeakMap<SessionPort, WeakMap<object, Wrapping>>();

/**
 * Wraps `client` for the session behind `port`. Wrapping the same client again (or its wrapped
 * proxy) changes nothing and returns the same wrapped client.
 */
export function wrapClient<C extends ConvexLikeClient>(port: SessionPort, client: C): C {
  let registry = wrappings.get(port);
  if (!registry) wrappings.set(port, (registry = new WeakMap()));
  const existing = registry.get(client);
  if (existing) return existing.proxy as C;
  const wrapping = wrap(port, client);
  registry.set(client, wrapping);
  registry.set(wrapping.proxy, wrapping);
  return wrapping.proxy as C;
}

/**
 * Lets go of a client wrapped for this session (given as itself or as its wrapped proxy): its
 * listeners are removed, its auth is cleared, and operations still held for it run now. True if
 * it was wrapped. Afterwards `wrapClient` wraps it afresh.
 */
export function unwrapClient(port: SessionPort, client: object): boolean {
  const registry = wrappings.get(port);
  const wrapping = registry?.get(client);
  if (!registry || !wrapping) return false;
  registry.delete(wrapping.client);
  registry.delete(wrapping.proxy);
  wrapping.unwrap();
  return true;
}

function wrap<C extends ConvexLikeClient>(port: SessionPort, client: C): Wrapping {
  port.attachClient();
  /** Operations this wrapping has in the gate, by id. */
  const held = new Map<number, Held>();
  let unwrapped = false;
  /** Generation of the token the client holds (0: none). */
  let handedGeneration = 0;
  /** Counts the client's onChange(true) reports. */
  let confirmations = 0;
  let requestsInFlight = 0;
  /**
   * Set once the client holds a token ahead of everything it sends from then on (`orderedToken`):
   * this wrapping's operations no longer wait for the server's acceptance. Never for a client that
   * cannot say, nor when held operations are to be rejected on a signed-out settling.
   */
  let tokenOrdered = false;

  /** Runs what the gate still holds for this wrapping now, in call order. */
  const releaseHeld = () => {
    for (const [id, operation] of [...held]) {
      held.delete(id);
      port.cancelOperation(id);
      operation.release();
    }
  };

  /**
   * Releases this wrapping's held operations once the client holds `token` (`orderedToken`); a
   * `null` (signed out) is never what a client holds, so it releases nothing.
   */
  const releaseWhenOrdered = (token: string | null) => {
    let waited = 0;
    const check = () => {
      if (unwrapped || tokenOrdered) return;
      if (orderedToken(client) !== token) {
        // convex-js puts the token in its sync state 4 microtasks after our fetcher settles (1.48:
        // its awaits in setConfig); past 32 the operations wait for the acceptance instead.
        if (++waited < 32) queueMicrotask(check);
        return;
      }
      tokenOrdered = true;
      releaseHeld();
    };
    if (port.signedOutRuns) queueMicrotask(check);
  };

  const fetchToken = async ({ forceRefreshToken }: { forceRefreshToken: boolean }) => {
    // A call from a client already let go (its auth was cleared) learns nothing from the session.
    if (unwrapped) return null;
    requestsInFlight++;
    try {
      let need: TokenNeed = TokenNeed.Current;
      if (forceRefreshToken) {
        // convex-js asks for a forced token in the same tick as it reports onChange(true) for a
        // cached token it just had confirmed. Let that report land before deciding: a forced ask
        // with no confirmation means the server rejected the token the client holds.
        const seen = confirmations;
        await Promise.resolve();
        if (confirmations === seen) {
          port.serverVerdict(handedGeneration, false);
          need = TokenNeed.NewerThan;
        }
      }
      const { token, generation } = await port.requestToken(need, handedGeneration);
      handedGeneration = token === null ? 0 : generation;
      releaseWhenOrdered(token);
      return token;
    } catch {
      // Settled as unauthenticated (the reason is on auth.getState().error): the client sees signed out.
      handedGeneration = 0;
      return null;
    } finally {
      requestsInFlight--;
    }
  };

  const onChange = (isAuthenticated: boolean) => {
    if (unwrapped) return;
    if (isAuthenticated) confirmations++;
    port.serverVerdict(handedGeneration, isAuthenticated);
  };

  const stopTokenChanges = port.onTokenChanged((generation) => {
    // A refreshed (or newly signed-in) token: hand it over unless the client is already asking.
    if (requestsInFlight === 0 && generation > handedGeneration) client.setAuth(fetchToken, onChange);
  });
  const stopStatusChanges = port.onStatusChanged((status) => {
    if (status === "unauthenticated" && requestsInFlight === 0 && handedGeneration !== 0) {
      handedGeneration = 0;
      client.clearAuth();
    }
  });
  client.setAuth(fetchToken, onChange);

  /** Submits through the gate, remembering what stays held so unwrap can run it. */
  const submit = (operation: Held) => {
    // The old wrapped client, used after unwrap, is no longer gated; nor one whose token is ahead.
    if (unwrapped || tokenOrdered) return { held: false, id: 0 };
    // The port may settle the operation inside submitOperation (a session that already failed),
    // before its id is known: 0 then, which no operation has (ids count from 1).
    let id = 0;
    let settled = false;
    const settle = () => {
      settled = true;
      held.delete(id);
    };
    const submitted = port.submitOperation({
      release() {
        settle();
        operation.release();
      },
      reject(error) {
        settle();
        operation.reject(error);
      },
    });
    id = submitted.id;
    if (submitted.held && !settled) held.set(id, operation);
    return submitted;
  };

  const proxy = new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      if (PROMISE_OPERATIONS.has(property)) {
        return (...args: unknown[]) => gatePromise(submit, () => method.apply(target, args));
      }
      if (SUBSCRIPTION_OPERATIONS.has(property)) {
        return (...args: unknown[]) => gateSubscription(submit, port, () => method.apply(target, args), args);
      }
      return method.bind(target);
    },
  });

  const unwrap = () => {
    unwrapped = true;
    stopTokenChanges();
    stopStatusChanges();
    port.detachClient();
    client.clearAuth();
    // The app took the client back: what the gate still holds for it runs now.
    releaseHeld();
  };
  return { client, proxy, unwrap };
}

type Submit = (operation: Held) => { held: boolean; id: number };

function gatePromise(submit: Submit, run: () => unknown): unknown {
  let release!: () => void;
  let reject!: (error: AuthlaneError) => void;
  const whenReleased = new Promise((resolve, fail) => {
    release = () => {
      try {
        resolve(run());
      } catch (error) {
        fail(error);
      }
    };
    reject = fail;
  });
  const { held } = submit({ release: () => release(), reject: (error) => reject(error) });
  return held ? whenReleased : run();
}

type Unsubscribe = (() => void) & { unsubscribe?: () => void; getCurrentValue?: () => unknown };

function gateSubscription(submit: Submit, port: SessionPort, run: () => unknown, args: unknown[]): unknown {
  let subscription: Unsubscribe | undefined;
  let cancelled = false;
  const { held, id } = submit({
    release() {
      if (!cancelled) subscription = run() as Unsubscribe;
    },
    reject(error) {
      // convex-js's onUpdate(query, args, callback, onError): report through onError when given.
      const onError = args.slice(3).find((arg) => typeof arg === "function") as ((e: Error) => void) | undefined;
      if (onError) onError(error);
      else console.warn(`[authlane] held subscription rejected: ${error.code}`);
    },
  });
  if (!held) return run();
  const unsubscribe: Unsubscribe = () => {
    if (subscription) return subscription();
    // Still held: forget it, so nothing is ever sent for it.
    cancelled = true;
    port.cancelOperation(id);
  };
  unsubscribe.unsubscribe = unsubscribe;
  unsubscribe.getCurrentValue = () => subscription?.getCurrentValue?.();
  return unsubscribe;
}
