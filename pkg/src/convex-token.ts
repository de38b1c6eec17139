// The token side of useAuthFromAuthlane: answers convex-js's fetchToken calls from one session so
// that the clients of every tab follow the session's one refresh schedule.
//
// convex-js asks for a forced token on its own schedule (its leeway before expiry), after a
// rejection, and (without initialAuthTokenReuse) once its first token is confirmed. It schedules
// the next ask a whole token lifetime after it confirms a token, as if the token had just been
// minted. So a forced ask is answered with the session's token when it is newer than the one the
// client holds; and when it is not, and the session's own refresh is due soon, the ask waits for
// that refresh rather than fetching now. Every tab's client then receives each token the moment it
// is minted, and asks again before it expires.
import type { Auth } from "./index.js";
import { SESSION_PORT, type PortAccess } from "./port.js";
import { TokenNeed } from "./protocol.js";

export interface ConvexTokenSource {
  fetchAccessToken(args: { forceRefreshToken: boolean }): Promise<string | null>;
  /** Hears the session's token changes until the returned function is called. */
  listen(): () => void;
}

/** A forced ask this close to the session's own refresh waits for it; further off, it fetches at once (a rejection). */
const WAIT_FOR_REFRESH_MS = 10_000;
/** How long past the refresh's due time a waiting ask gives the session (a lock hand-over, a slow fetch) before it fetches itself. */
const REFRESH_SLACK_MS = 1_000;

export function convexTokenSource(auth: Auth): ConvexTokenSource {
  const access = (auth as unknown as { [SESSION_PORT]?: PortAccess })[SESSION_PORT];
  if (!access) {
    // Not a createAuth session (e.g. a test double): its getToken is all there is.
    return {
      fetchAccessToken: ({ forceRefreshToken }) => auth.getToken({ forceRefresh: forceRefreshToken }).catch(() => null),
      listen: () => () => {},
    };
  }
  const { port, refreshLeewayMs } = access;
  /** Generation of the token the client holds (0: none). */
  let handed = 0;
  /** Newest generation the session announced. */
  let newest = 0;
  const wakers = new Set<() => void>();

  /** Resolves at the session's next token, or once its refresh is overdue; at once if no refresh is due soon. */
  const nextRefresh = (): Promise<void> => {
    const exp = auth.getState().claims?.exp;
    if (newest > handed || !exp) return Promise.resolve();
    const untilRefresh = exp * 1000 - Date.now() - refreshLeewayMs;
    if (untilRefresh <= 0 || untilRefresh > WAIT_FOR_REFRESH_MS) return Promise.resolve();
    return new Promise((resume) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resume();
      };
      const timer = setTimeout(wake, untilRefresh + REFRESH_SLACK_MS);
      wakers.add(wake);
    });
  };

  return {
    async fetchAccessToken({ forceRefreshToken }) {
      try {
        if (forceRefreshToken) await nextRefresh();
        const need = forceRefreshToken ? TokenNeed.NewerThan : TokenNeed.Current;
        const { token, generation } = await port.requestToken(need, handed);
        handed = token === null ? 0 : generation;
        newest = Math.max(newest, handed);
        return token;
      } catch {
        // convex-js does not catch a rejected fetchToken (its socket would stay paused); the
        // reason stays in auth.getState().error.
        handed = 0;
        return null;
      }
    },
    listen() {
      return port.onTokenChanged((generation) => {
        newest = Math.max(newest, generation);
        for (const wake of [...wakers]) wake();
      });
    },
  };
}
