// The head start: what a tab does for its session while the WebAssembly module loads, so that the
// module is not on the path to the first token. Each step is one the core commands first thing
// when it starts, performed early only where that is safe; the core then takes each through its
// ordinary inputs and keeps every decision:
// - peers' messages are heard from now on (after asking running peers for their token, with the
//   core's own Request message) and handed to the core, in order, before it starts;
// - the refresh lock is taken if it is free, nobody queues for it and no other tab's session is
//   running to answer (an uncontended grant, as locks.js defines it): the core's first lock
//   request is granted from it;
// - holding that lock, the first unforced fetch begins at once, and answers the core's first
//   fetch under that lock if the core agrees (`backdateFetch`: no sign-out since it began);
//   otherwise the callback is called anew, once the early call has settled.
// The early lock is given back only once the early call has settled (or a lock timeout passed),
// so no two calls ever redeem the same refresh token. Only with Web Locks, BroadcastChannel and
// in-memory storage (a stored token may make the fetch unnecessary); otherwise the core does it all.
import type { FetchAccessToken } from "./auth.js";
import { PEER_REQUEST } from "./protocol.js";

/** A grant of the refresh lock taken early, as `RefreshLock` in src/web/locks.js takes it. */
interface EarlyGrant {
  /** Whether the grant still proves that no peer can answer (taken uncontended, within a lock timeout). */
  readonly uncontended: boolean;
  release(): void;
  onLost(callback: () => void): void;
}

/** The early lock as the driver's `RefreshLock` receives it (its fourth constructor argument). */
export interface EarlyLock {
  claim(): Promise<EarlyGrant | null>;
  decline(): void;
}

export interface HeadStart {
  readonly lock: EarlyLock;
  /** Stops listening and returns what peers said, in order: call right before the core opens its channel. */
  takeMessages(): string[];
  /**
   * The callback for the core: its first unforced call under the early lock is answered by the
   * early fetch when `backdate(startedAt)` (the core) agrees.
   */
  fetchAccessToken(backdate: (startedAt: number) => boolean): FetchAccessToken;
  /** The core has started: what it did not take is given back. */
  started(): void;
  /** The session ends before its core started (disposed, or the module failed). */
  cancel(): void;
}

/** More than any startup sees; a flood beyond it keeps the latest. */
const MAX_EARLY_MESSAGES = 256;

function webPlatformHasIt(): boolean {
  return (
    typeof BroadcastChannel === "function" &&
    typeof navigator !== "undefined" &&
    typeof navigator.locks?.request === "function" &&
    typeof navigator.locks.query === "function"
  );
}

/** A head start for a cross-tab session named `name`, or `null` where the core must do it all. */
export function startHead(
  name: string,
  lockTimeoutMs: number,
  inMemory: boolean,
  fetchAccessToken: FetchAccessToken,
): HeadStart | null {
  if (!inMemory || !webPlatformHasIt()) return null;
  // The name channel.js gives this app's channel and locks.js its refresh lock: one string.
  const channelAndLockName = `authlane:${name}`;

  const messages: string[] = [];
  let channel: BroadcastChannel | null = new BroadcastChannel(channelAndLockName);
  channel.onmessage = (event: MessageEvent) => {
    messages.push(typeof event.data === "string" ? event.data : "");
    if (messages.length > MAX_EARLY_MESSAGES) messages.shift();
  };
  channel.postMessage(PEER_REQUEST);
  const closeChannel = () => {
    channel?.close();
    channel = null;
  };

  let early: { startedAt: number; result: Promise<string | null | undefined>; done: Promise<void> } | null = null;
  /** The early fetch may answer the core only while the core holds the early lock. */
  let claimable = false;
  let claimed = false;
  let giveBack: (() => void) | null = null;
  let given = false;
  const giveBackOnce = () => {
    if (given) return;
    given = true;
    claimable = false;
    const release = giveBack;
    if (!release) return;
    // Never while the early call is out (it may be redeeming the refresh token), but not forever.
    const waited = new Promise<void>((resolve) => setTimeout(resolve, lockTimeoutMs));
    void Promise.race([early?.done ?? Promise.resolve(), waited]).then(release);
  };

  let lost = false;
  let onLost: (() => void) | null = null;
  // Asked beside the lock rather than after it (one round trip to the browser less): a session
  // that starts after this query cannot answer with a token either, since it could only fetch one
  // under the lock this tab is asking for.
  const alone = noSessionRunning(channelAndLockName);
  const grant = new Promise<EarlyGrant | null>((resolve) => {
    navigator.locks
      .request(channelAndLockName, { ifAvailable: true }, async (lock) => {
        // `given` is read after the wait: the session may have ended or started meanwhile.
        // A failure recorded by the app's tabs (channel.js's backoff slot) means the core decides
        // when to call again, never this early fetch.
        if (!lock || !(await alone) || given || backoffRecorded(name)) return resolve(null);
        const grantedAt = Date.now();
        const result = new Promise<string | null | undefined>((settle) => settle(fetchAccessToken({ forceRefreshToken: false })));
        early = { startedAt: grantedAt, result, done: result.then(() => {}, () => {}) };
        const held = new Promise<void>((release) => (giveBack = release));
        resolve({
          get uncontended() {
            return Date.now() - grantedAt < lockTimeoutMs;
          },
          release: giveBackOnce,
          onLost(callback) {
            onLost = callback;
            if (lost) queueMicrotask(callback);
          },
        });
        return held;
      })
      // A steal by a tab that waited a lock timeout for it (this one was frozen meanwhile).
      .catch(() => {
        lost = true;
        onLost?.();
      })
      .finally(() => resolve(null));
  });

  let lockClaimed = false;
  return {
    lock: {
      claim() {
        lockClaimed = true;
        return grant.then((granted) => {
          if (!granted || given) {
            giveBackOnce();
            return null;
          }
          claimable = true;
          return granted;
        });
      },
      decline: giveBackOnce,
    },
    takeMessages() {
      closeChannel();
      return messages.splice(0);
    },
    fetchAccessToken(backdate) {
      return (args) => {
        const ahead = early;
        if (ahead && claimable && !claimed && !args.forceRefreshToken) {
          claimed = true;
          if (backdate(ahead.startedAt)) return ahead.result;
        }
        // Whatever happened to the early call, the next one waits for it to settle.
        if (ahead) return ahead.done.then(() => fetchAccessToken(args));
        return fetchAccessToken(args);
      };
    },
    started() {
      if (!lockClaimed) giveBackOnce();
    },
    cancel() {
      closeChannel();
      giveBackOnce();
    },
  };
}

/** Whether the app's tabs recorded a failed fetch whose retry they wait for (cleared by a success). */
function backoffRecorded(name: string): boolean {
  try {
    return localStorage.getItem(`authlane:backoff:${name}`) !== null;
  } catch {
    return false;
  }
}

/**
 * Whether no tab's session of this app is running: each holds the shared presence lock while it
 * lives (locks.js), and only a running session can answer a request for a token. A failed query
 * proves nothing.
 */
async function noSessionRunning(lockName: string): Promise<boolean> {
  try {
    const { held = [] } = await navigator.locks.query();
    return !held.some((lock) => lock.name === `${lockName}:present`);
  } catch {
    return false;
  }
}
