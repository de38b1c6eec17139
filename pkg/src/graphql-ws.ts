// The adapter for graphql-ws clients (GraphQL over WebSocket, e.g. Hasura). The protocol checks a
// token once, in connection_init, so the socket is the unit of authentication: every connect asks
// the session for a token, a connection_ack is the server's acceptance, a 4401/4403 close its
// rejection, and a refreshed token (or a sign-out) restarts the socket. graphql-ws has no re-init,
// so a restart is its documented "restartable client" recipe: close with 4205 (non-fatal), and the
// client reconnects and resubscribes by itself.
//
// graphql-ws is not imported: the app passes its `createClient`, described structurally here.
// authlane/graphql-ws is its own entry (apps without graphql-ws do not carry it); it reaches the
// session through the Auth object and shares the main bundle ("./index.js").
import { AuthlaneError, ErrorCodes, type Auth } from "./index.js";
import { SESSION_PORT, type PortAccess } from "./port.js";
import type { SessionPort } from "./wrap.js";
import { TokenNeed } from "./protocol.js";

/** A graphql-ws `Sink`. */
export interface GraphqlWsSink {
  next(value: unknown): void;
  error(error: unknown): void;
  complete(): void;
}

/** What the adapter uses of a graphql-ws `Client` (graphql-ws 5 and 6). */
export interface GraphqlWsClientLike {
  subscribe(payload: unknown, sink: GraphqlWsSink): () => void;
  on(event: "opened" | "connected" | "closed", listener: (...args: any[]) => void): () => void;
  dispose(): void | Promise<void>;
}

/** The graphql-ws `ClientOptions` the adapter reads or replaces; everything else passes through. */
export interface GraphqlWsClientOptionsLike {
  url: string | (() => string | Promise<string>);
  connectionParams?: unknown;
  lazy?: boolean;
  retryWait?: (retries: number) => Promise<void>;
  shouldRetry?: (errOrCloseEvent: unknown) => boolean;
  webSocketImpl?: unknown;
}

/** authlane's own options, given beside graphql-ws's (and not passed on to `createClient`). */
export interface GraphqlWsAuthOptions {
  /**
   * Puts the token into the `connection_init` payload, on top of your `connectionParams`.
   * Default (what Hasura reads): `{ ...params, headers: { ...params.headers, Authorization: "Bearer <jwt>" } }`.
   */
  tokenParams?: (token: string, params: Record<string, unknown>) => Record<string, unknown>;
  /**
   * When the session is signed out (sign-out, a final rejection): `"reconnect"` (default) restarts
   * the socket without a token (Hasura's unauthorized role); `"close"` fails the connection, so its
   * subscriptions end with `signed_out` (subscribe again after signing in).
   */
  signedOut?: "reconnect" | "close";
}

/** graphql-ws' `createClient` (or anything shaped like it); its options type is read from it. */
export type CreateGraphqlWsClient = (options: any) => GraphqlWsClientLike;

/** The options `wrapGraphqlWs(auth, createClient, options)` takes: createClient's own, plus authlane's. */
export type GraphqlWsWrapOptions<F extends CreateGraphqlWsClient> = Parameters<F>[0] & GraphqlWsClientOptionsLike & GraphqlWsAuthOptions;

/** The wrapped client: graphql-ws's API, gated, plus `restart()` (reconnect with a freshly asked token). */
export type GraphqlWsClient<C> = C & { restart(): void };

/** Close codes that mean "this token is not accepted". */
const AUTH_CLOSE_CODES = [4401, 4403];
/** graphql-ws' restart recipe code: not fatal, so the client reconnects and resubscribes. */
const RESTART_CODE = 4205;
const OPEN = 1;

interface SocketLike {
  readyState: number;
  close(code?: number, reason?: string): void;
}

const closeCode = (event: unknown): number | null =>
  event !== null && typeof event === "object" && "code" in event && "reason" in event ? Number((event as { code: unknown }).code) : null;

interface ClosableSocket extends SocketLike {
  get onclose(): ((event: unknown) => void) | null;
  set onclose(listener: ((event: unknown) => void) | null);
}
type WebSocketClass = new (url: string, protocols?: string | string[]) => ClosableSocket;

/**
 * graphql-ws ends every subscription on a 4401 close (its protocol's "subscribe before ack"), so a
 * server that answers a bad token with 4401 would leave nothing to retry with the refreshed token.
 * This socket class reports such a close to graphql-ws as 4403 (retryable) while `retry()` says so.
 */
function retryingUnauthorized(Base: WebSocketClass | undefined, retry: () => boolean): WebSocketClass | undefined {
  if (typeof Base !== "function") return undefined;
  return class extends Base {
    get onclose() {
      return super.onclose;
    }
    set onclose(listener) {
      super.onclose = listener && ((event: unknown) => {
        const { reason, wasClean } = event as { reason: string; wasClean: boolean };
        listener.call(this, closeCode(event) === 4401 && retry() ? { code: 4403, reason, wasClean } : event);
      });
    }
  };
}

/** Hasura's connection_init shape. */
function bearerHeaders(token: string, params: Record<string, unknown>): Record<string, unknown> {
  const headers = (params.headers ?? {}) as Record<string, unknown>;
  return { ...params, headers: { ...headers, Authorization: `Bearer ${token}` } };
}

/** graphql-ws' default retryWait: 2^retries s plus 0.3–3 s of jitter. */
function defaultRetryWait(retries: number): Promise<void> {
  return new Promise((done) => setTimeout(done, 2 ** retries * 1000 + 300 + Math.floor(Math.random() * 2700)));
}

/**
 * Creates a graphql-ws client with `createClient(options)` whose connection_init carries the
 * session's token: fetched at each connect, a restart on refresh and sign-out, one forced refresh
 * after a 4401/4403 close, `subscribe`/`iterate` gated. Adds `restart()`.
 */
export function wrapGraphqlWs<F extends CreateGraphqlWsClient>(
  auth: Auth,
  createClient: F,
  options: GraphqlWsWrapOptions<F>,
): GraphqlWsClient<ReturnType<F>> {
  const access = (auth as unknown as { [SESSION_PORT]?: PortAccess } | null)?.[SESSION_PORT];
  if (!access) throw new TypeError("wrapGraphqlWs: the first argument must be an Auth from createAuth()");
  return wrapWithPort(access.port, access.expectAuth, createClient, options);
}

function wrapWithPort<F extends CreateGraphqlWsClient>(
  port: SessionPort,
  expectAuth: boolean,
  createClient: F,
  options: GraphqlWsWrapOptions<F>,
): GraphqlWsClient<ReturnType<F>> {
  const { tokenParams = bearerHeaders, signedOut = "reconnect", ...clientOptions } = options as GraphqlWsClientOptionsLike & GraphqlWsAuthOptions;
  const userUrl = clientOptions.url;
  const userParams = clientOptions.connectionParams;
  port.attachClient();

  /** The token chosen for the connection being opened (by `url`, before the socket exists). */
  let prepared: { token: string | null; generation: number; error: AuthlaneError | null } | null = null;
  /** Generation of the token in the current socket's connection_init (0: none). */
  let socketGeneration = 0;
  /** Generation of the newest token the session announced. */
  let latestGeneration = 0;
  /** What the next connect asks for: after a rejection, a token newer than the rejected one. */
  let need: TokenNeed = TokenNeed.Current;
  let rejectedGeneration = 0;
  /** The session settled signed out: connect without asking for a token until a new one arrives. */
  let settled = port.status() === "unauthenticated";
  let socket: SocketLike | null = null;
  let acknowledged = false;
  /** The socket closed for an auth reason or by our restart: reconnect without graphql-ws' backoff. */
  let reconnectNow = false;
  let disposed = false;

  const nextToken = async (): Promise<NonNullable<typeof prepared>> => {
    if (settled) return { token: null, generation: 0, error: signedOutError() };
    try {
      const { token, generation } = await port.requestToken(need, rejectedGeneration);
      return { token, generation: token === null ? 0 : generation, error: token === null ? signedOutError() : null };
    } catch {
      // Settled unauthenticated (the reason is on auth.getState().error): connect as signed out.
      return { token: null, generation: 0, error: signedOutError() };
    }
  };
  const signedOutError = () =>
    signedOut === "close" ? new AuthlaneError(ErrorCodes.SignedOut, "the session is signed out") : null;

  /** The socket carries a token it should not: older than the session's, or any once signed out. */
  const stale = () => (settled ? socketGeneration > 0 : latestGeneration > socketGeneration);

  /**
   * graphql-ws re-sends every operation still under way on the new socket, so a restart waits
   * for mutations in flight (a re-sent mutation would run twice); subscriptions and queries resume.
   */
  let mutationsInFlight = 0;
  let restartWaiting = false;
  const closeForRestart = () => {
    restartWaiting = mutationsInFlight > 0;
    if (restartWaiting || socket?.readyState !== OPEN) return;
    reconnectNow = true;
    socket.close(RESTART_CODE, "Client Restart");
  };
  const restart = () => {
    // Before the ack a connect is under way: its connectionParams ask for the token, and if an
    // older one was sent already, the connected handler restarts once the server answered.
    if (acknowledged) closeForRestart();
  };

  const client: GraphqlWsClientLike = createClient({
    ...clientOptions,
    // The gate opens on the first connection_ack, so with expectAuth there must be a connection.
    ...(expectAuth ? { lazy: false } : {}),
    webSocketImpl: retryingUnauthorized(
      (clientOptions.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket) as WebSocketClass | undefined,
      () => socketGeneration > 0,
    ),
    // The token is fetched before the socket opens (a slow provider never idles an open socket
    // into the server's init timeout); graphql-ws awaits `url` on every connect.
    url: async () => {
      const target = typeof userUrl === "function" ? await userUrl() : userUrl;
      prepared = await nextToken();
      return target;
    },
    connectionParams: async () => {
      const base = ((typeof userParams === "function" ? await userParams() : userParams) ?? {}) as Record<string, unknown>;
      let chosen = prepared ?? (await nextToken());
      prepared = null;
      // The session moved on while the socket was opening: take its current token.
      if (settled ? chosen.token !== null : latestGeneration > chosen.generation) chosen = await nextToken();
      socketGeneration = chosen.generation;
      if (chosen.error) throw chosen.error;
      return chosen.token === null ? base : tokenParams(chosen.token, base);
    },
    retryWait: async (retries: number) => {
      if (reconnectNow) {
        // The session paces these: a restart follows a refresh, and a rejection costs one forced fetch.
        reconnectNow = false;
        return;
      }
      await (clientOptions.retryWait ?? defaultRetryWait)(retries);
    },
    shouldRetry: (event: unknown) => {
      const code = closeCode(event);
      if (code === RESTART_CODE || (code !== null && AUTH_CLOSE_CODES.includes(code))) return true;
      return clientOptions.shouldRetry ? clientOptions.shouldRetry(event) : code !== null;
    },
  });

  const listeners = [
    client.on("opened", (opened: SocketLike) => {
      socket = opened;
      acknowledged = false;
    }),
    client.on("connected", () => {
      acknowledged = true;
      need = TokenNeed.Current;
      rejectedGeneration = 0;
      restartWaiting = false;
      port.serverVerdict(socketGeneration, true);
      if (stale()) restart();
    }),
    client.on("closed", (event: unknown) => {
      const code = closeCode(event);
      socket = null;
      acknowledged = false;
      if (code !== null && AUTH_CLOSE_CODES.includes(code) && socketGeneration > 0) {
        // Rejected (at init, or later, e.g. when the token expired on the server): the session
        // forces one refresh; a second rejection settles it signed out.
        rejectedGeneration = socketGeneration;
        need = TokenNeed.NewerThan;
        reconnectNow = true;
        port.serverVerdict(socketGeneration, false);
      }
      socketGeneration = 0;
    }),
    port.onTokenChanged((generation) => {
      latestGeneration = Math.max(latestGeneration, generation);
      settled = false;
      if (stale()) restart();
    }),
    port.onStatusChanged((status) => {
      if (status !== "unauthenticated") return;
      settled = true;
      if (stale()) restart();
    }),
  ];

  const subscribe = (payload: unknown, original: GraphqlWsSink): (() => void) => {
    let sink = original;
    if (isMutation(payload)) {
      mutationsInFlight++;
      let counted = true;
      const settle = () => {
        if (!counted) return;
        counted = false;
        if (--mutationsInFlight === 0 && restartWaiting) closeForRestart();
      };
      sink = {
        next: (value) => original.next(value),
        error(error) {
          settle();
          original.error(error);
        },
        complete() {
          settle();
          original.complete();
        },
      };
      const unsubscribe = subscribeGated(payload, sink);
      return () => (settle(), unsubscribe());
    }
    return subscribeGated(payload, sink);
  };

  const subscribeGated = (payload: unknown, sink: GraphqlWsSink): (() => void) => {
    let dispose: (() => void) | undefined;
    let cancelled = false;
    const { held, id } = port.submitOperation({
      release() {
        if (!cancelled) dispose = client.subscribe(payload, sink);
      },
      reject(error) {
        if (!cancelled) sink.error(error);
      },
    });
    if (!held) return client.subscribe(payload, sink);
    return () => {
      if (dispose) return dispose();
      // Still held: forget it, so nothing is ever sent for it.
      if (!cancelled) port.cancelOperation(id);
      cancelled = true;
    };
  };

  const overrides: Record<PropertyKey, unknown> = {
    subscribe,
    iterate: (payload: unknown) => iterate(subscribe, payload),
    restart: closeForRestart,
    dispose: () => {
      if (!disposed) for (const unlisten of listeners) unlisten();
      disposed = true;
      return client.dispose();
    },
  };
  return new Proxy(client, {
    get(target, property) {
      if (property in overrides) return overrides[property];
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as GraphqlWsClient<ReturnType<F>>;
}

/** A document whose first operation is a mutation (comments aside). */
function isMutation(payload: unknown): boolean {
  const query = (payload as { query?: unknown } | null)?.query;
  return typeof query === "string" && /^(?:\s|#[^\n]*\n)*mutation\b/.test(query);
}

/** graphql-ws' `iterate`, over the gated `subscribe` (graphql-ws' own calls its internal one). */
function iterate(subscribe: (payload: unknown, sink: GraphqlWsSink) => () => void, payload: unknown): AsyncIterableIterator<unknown> {
  const pending: unknown[] = [];
  let done = false;
  let failure: { error: unknown } | null = null;
  let wake = () => {};
  const dispose = subscribe(payload, {
    next(value) {
      pending.push(value);
      wake();
    },
    error(error) {
      failure = { error };
      done = true;
      wake();
    },
    complete() {
      done = true;
      wake();
    },
  });
  const finish = async () => {
    if (!done) dispose();
    done = true;
    wake();
    return { value: undefined, done: true } as const;
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      while (pending.length === 0 && !done) await new Promise<void>((resume) => (wake = resume));
      if (pending.length > 0) return { value: pending.shift(), done: false };
      if (failure) {
        const { error } = failure;
        failure = null;
        throw error;
      }
      return { value: undefined, done: true };
    },
    return: finish,
    throw: async (error: unknown) => {
      await finish();
      throw error;
    },
  };
}
