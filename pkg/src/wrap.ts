// The adapter for Convex-like clients: it answers the client's fetchToken calls from the session,
// turns the client's onChange reports into server verdicts, pushes refreshed tokens, and routes
// operations through the expectAuth gate.
import type { AuthlaneError } from "./errors.js";

/** Anything with convex-js's auth surface: `setAuth(fetchToken, onChange)` and `clearAuth()`. */
export interface ConvexLikeClient {
  setAuth(
    fetchToken: (args: { forceRefreshToken: boolean }) => Promise<string | null | undefined>,
    onChange?: (isAuthenticated: boolean) => void,
  ): void;
  clearAuth(): void;
}

/** Mirrors the core's `TokenNeed` (the numbers cross into wasm). */
export const TokenNeed = { Current: 0, NewerThan: 1, Forced: 2 } as const;
export type TokenNeed = (typeof TokenNeed)[keyof typeof TokenNeed];

/** What the adapter needs from the session (implemented in auth.ts). */
export interface SessionPort {
  attachClient(): void;
  requestToken(need: TokenNeed, held: number): Promise<{ token: string | null; generation: number }>;
  serverVerdict(generation: number, accepted: boolean): void;
  submitOperation(operation: { release(): void; reject(error: AuthlaneError): void }): { held: boolean; id: number };
  cancelOperation(id: number): void;
  onTokenChanged(listener: (generation: number) => void): () => void;
  onStatusChanged(listener: (status: string) => void): () => void;
  status(): string;
}

/** Methods returning a promise that the gate may hold. */
const PROMISE_OPERATIONS = new Set<PropertyKey>(["query", "mutation", "action"]);
/** Methods returning an unsubscribe function that the gate may hold. */
const SUBSCRIPTION_OPERATIONS = new Set<PropertyKey>(["onUpdate", "subscribe", "onPaginatedUpdate"]);

export function wrapClient<C extends ConvexLikeClient>(port: SessionPort, client: C): C {
  port.attachClient();
  /** Generation of the token the client holds (0: none). */
  let handedGeneration = 0;
  /** Counts the client's onChange(true) reports. */
  let confirmations = 0;
  let requestsInFlight = 0;

  const fetchToken = async ({ forceRefreshToken }: { forceRefreshToken: boolean }) => {
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
    if (isAuthenticated) confirmations++;
    port.serverVerdict(handedGeneration, isAuthenticated);
  };

  port.onTokenChanged((generation) => {
    // A refreshed (or newly signed-in) token: hand it over unless the client is already asking.
    if (requestsInFlight === 0 && generation > handedGeneration) client.setAuth(fetchToken, onChange);
  });
  port.onStatusChanged((status) => {
    if (status === "unauthenticated" && requestsInFlight === 0 && handedGeneration !== 0) {
      handedGeneration = 0;
      client.clearAuth();
    }
  });
  client.setAuth(fetchToken, onChange);

  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      if (PROMISE_OPERATIONS.has(property)) {
        return (...args: unknown[]) => gatePromise(port, () => method.apply(target, args));
      }
      if (SUBSCRIPTION_OPERATIONS.has(property)) {
        return (...args: unknown[]) => gateSubscription(port, () => method.apply(target, args), args);
      }
      return method.bind(target);
    },
  });
}

function gatePromise(port: SessionPort, run: () => unknown): unknown {
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
  const { held } = port.submitOperation({ release: () => release(), reject: (error) => reject(error) });
  return held ? whenReleased : run();
}

type Unsubscribe = (() => void) & { unsubscribe?: () => void; getCurrentValue?: () => unknown };

function gateSubscription(port: SessionPort, run: () => unknown, args: unknown[]): unknown {
  let subscription: Unsubscribe | undefined;
  let cancelled = false;
  const { held, id } = port.submitOperation({
    release() {
      if (!cancelled) subscription = run() as Unsubscribe;
    },
    reject(error) {
      // convex-js's onUpdate(query, args, callback, onError): report through onError when given.
      const onError = args.slice(3).find((arg) => typeof arg === "function") as ((e: Error) => void) | undefined;
      if (onError) onError(error);
      else console.warn(`[authlane] a held subscription was rejected: ${error.code}`);
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
