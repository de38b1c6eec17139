// The cross-tab refresh lock. Web Locks where the browser has them (a JS snippet because web-sys
// exposes LockManager only behind unstable cfg), else a localStorage lease.
//
// Contract with the Rust driver (src/web/locks.rs): acquire(id, steal) eventually calls
// onGranted(id, uncontended) unless release(id) comes first, or onLost(id, true) when the request
// fails (Web Locks refused in an opaque origin, a SecurityError): never silence; a grant taken by
// another tab's steal calls onLost(id, false). Stealers queue on a second "takeover" lock, so only one tab steals at a time.
// `uncontended` is true only when the lock was free, with nobody queued, at the moment this tab
// asked, and no other tab of the app was there to answer its request for a token (the session
// then skips its peer grace); the lease cannot tell, so it always says false.
// `early`, when given, is the lock a tab took before its session existed (pkg/src/head-start.ts):
// `{ claim(): Promise<{ uncontended, release(), onLost(callback) } | null>, decline() }`. The first
// request (not a steal) is answered from it, and only if it yields nothing does it go to the lock.

const LEASE_TTL_MS = 5000;
const LEASE_RENEW_MS = 1500;
const LEASE_POLL_MS = 100;
// localStorage reaches other tabs asynchronously (another renderer may see a write tens of ms late,
// more on a loaded machine): racing writers settle this long before reading back who won, and
// each waits a random moment first, so tabs that saw a lease expire together do not write together.
const LEASE_SETTLE_MS = 120;
const LEASE_JITTER_MS = 60;

export class RefreshLock {
  constructor(name, onGranted, onLost, early) {
    this.name = `authlane:${name}`;
    this.early = early ?? null;
    this.onGranted = onGranted;
    this.onLost = onLost;
    /** id → AbortController of a request not granted yet */
    this.pending = new Map();
    /** id → function releasing the grant */
    this.held = new Map();
    this.webLocks = typeof navigator !== "undefined" && navigator.locks && typeof navigator.locks.request === "function";
    this.owner = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    /** Gives back this tab's presence lock, while it holds one. */
    this.leavePresence = null;
    if (this.webLocks) this.announcePresence();
  }

  acquire(id, steal) {
    if (this.webLocks) this.announcePresence();
    // A steal asked again while this one still waits behind the thief holding the takeover lock.
    const force = steal && this.pending.get(id)?.steal === true;
    this.abandon(id);
    const early = this.takeEarly();
    if (early && !steal) this.acquireEarly(id, early);
    else if (this.webLocks) this.acquireWebLock(id, steal, force);
    else this.acquireLease(id, steal);
    if (early && steal) early.decline();
  }

  takeEarly() {
    const early = this.early;
    this.early = null;
    return early;
  }

  acquireEarly(id, early) {
    const controller = new AbortController();
    this.pending.set(id, controller);
    early.claim().then((grant) => {
      if (grant) {
        grant.onLost(() => this.lost(id, null));
        this.granted(id, grant.release, grant.uncontended);
      } else if (this.pending.get(id) === controller) {
        this.pending.delete(id);
        this.acquireWebLock(id, false);
      }
    });
  }

  release(id) {
    this.abandon(id);
    const release = this.held.get(id);
    this.held.delete(id);
    if (release) release();
  }

  /** Gives back everything (the page is going away; the next acquire announces it again). */
  releaseAll() {
    for (const id of [...this.pending.keys(), ...this.held.keys()]) this.release(id);
    this.takeEarly()?.decline();
    if (this.leavePresence) this.leavePresence();
    this.leavePresence = null;
  }

  /** Whether the page is hidden (after `pagehide`, a `visibilitychange` to hidden is no wake-up). */
  isPageHidden() {
    return typeof document !== "undefined" && document.visibilityState === "hidden";
  }

  abandon(id) {
    const controller = this.pending.get(id);
    this.pending.delete(id);
    if (controller) controller.abort();
  }

  granted(id, release, uncontended) {
    if (!this.pending.has(id)) {
      release();
      return;
    }
    this.pending.delete(id);
    this.held.set(id, release);
    this.onGranted(id, uncontended);
  }

  // ---- Web Locks ----

  acquireWebLock(id, steal, force) {
    const controller = new AbortController();
    controller.steal = steal;
    this.pending.set(id, controller);
    const holdMain = (releaseOuter, uncontended) =>
      new Promise((releaseMain) => {
        this.granted(id, () => {
          releaseMain();
          if (releaseOuter) releaseOuter();
        }, uncontended);
      });
    // Rejections: our own abort (ignored), a steal by another tab ending our grant, or a request
    // refused before any grant (an opaque origin, a SecurityError), which the session must hear of.
    // (A request of ours still pending is this one, not a later one for the same id: a steal reuses it.)
    const failed = (cleanup) => () =>
      this.pending.get(id) === controller ? this.unavailable(id, cleanup) : this.lost(id, cleanup);
    const request = (options, callback) => navigator.locks.request(this.name, options, callback).catch(failed(null));
    if (steal) {
      // Forced, the takeover lock is stolen too: its thief never let go (frozen). (A steal takes no
      // abort signal; an abandon meanwhile is seen below.)
      navigator.locks
        .request(`${this.name}:takeover`, force ? { steal: true } : { signal: controller.signal }, () =>
          new Promise((releaseTakeover) => {
            if (!this.pending.has(id)) return releaseTakeover();
            navigator.locks.request(this.name, { steal: true }, () => holdMain(releaseTakeover, false)).catch(failed(releaseTakeover));
          }),
        )
        .catch(failed(null));
      return;
    }
    // First only if the lock is free and nobody queues for it (`ifAvailable` grants exactly then,
    // else calls back with null at once): any earlier holder released before this request, so the
    // token it broadcast was sent before it too, and no hand-over can overtake a broadcast. Such a
    // grant is uncontended if, besides, no other tab is present to answer our request for a token.
    // (`ifAvailable` takes no abort signal: an abandon meanwhile is seen by `granted`, which gives
    // the lock straight back, or here before queueing.)
    request({ ifAvailable: true }, async (lock) => {
      if (lock) return holdMain(null, await this.isAlone());
      if (!controller.signal.aborted) request({ signal: controller.signal }, () => holdMain(null, false));
      return undefined;
    });
  }

  // Every tab of the app holds a shared "present" lock while it lives, so that a tab can tell
  // whether any other is there to answer its request for a token (an idle tab holds nothing else).
  announcePresence() {
    if (this.leavePresence) return;
    let leave;
    const held = new Promise((resolve) => (leave = resolve));
    this.leavePresence = leave;
    navigator.locks.request(`${this.name}:present`, { mode: "shared" }, () => held).catch(() => {});
  }

  /**
   * Whether no other tab of the app holds the presence lock. Ours was requested before any lock
   * request of this tab, and shared requests nobody blocks are granted in order, so it is counted.
   * A query that fails proves nothing.
   */
  async isAlone() {
    try {
      const { held = [] } = await navigator.locks.query();
      return held.filter((lock) => lock.name === `${this.name}:present`).length <= 1;
    } catch {
      return false;
    }
  }

  unavailable(id, cleanup) {
    if (cleanup) cleanup();
    this.pending.delete(id);
    this.onLost(id, true);
  }

  lost(id, cleanup) {
    if (cleanup) cleanup();
    if (this.held.has(id)) {
      this.held.delete(id);
      this.onLost(id, false);
    }
  }

  // ---- localStorage lease (no Web Locks) ----

  leaseKey(suffix = "") {
    return `${this.name}:lease${suffix}`;
  }

  readLease() {
    try {
      const lease = JSON.parse(localStorage.getItem(this.leaseKey()) ?? "null");
      return lease && typeof lease.owner === "string" && typeof lease.until === "number" ? lease : null;
    } catch {
      return null;
    }
  }

  writeLease(id) {
    try {
      localStorage.setItem(this.leaseKey(), JSON.stringify({ owner: this.owner, id, until: Date.now() + LEASE_TTL_MS }));
      return true;
    } catch {
      return false;
    }
  }

  acquireLease(id, steal) {
    const controller = new AbortController();
    this.pending.set(id, controller);
    let jittered = false;
    // A steal takes the lease from the holder this tab waited behind, never from another thief
    // that took it meanwhile (tabs whose patience ran out together): that one is waited for.
    const victim = steal ? this.readLease() : null;
    const isVictim = (lease) => victim !== null && lease.owner === victim.owner && lease.id === victim.id;
    const attempt = () => {
      if (controller.signal.aborted) return;
      const lease = this.readLease();
      const free = !lease || lease.until < Date.now() || (lease.owner === this.owner && lease.id === id);
      if (!free && !(steal && isVictim(lease))) {
        setTimeout(attempt, LEASE_POLL_MS);
        return;
      }
      if (!jittered) {
        jittered = true;
        setTimeout(attempt, Math.random() * LEASE_JITTER_MS);
        return;
      }
      jittered = false;
      if (!this.writeLease(id)) {
        // Storage refused (quota, privacy mode): proceed unlocked rather than never refresh.
        this.grantLease(id, controller);
        return;
      }
      // No compare-and-swap in localStorage: write, let racing writers land, then check who won.
      setTimeout(() => {
        if (controller.signal.aborted) return;
        const now = this.readLease();
        if (now && now.owner === this.owner && now.id === id) this.grantLease(id, controller);
        else setTimeout(attempt, LEASE_POLL_MS);
      }, LEASE_SETTLE_MS);
    };
    attempt();
  }

  grantLease(id, controller) {
    const renew = setInterval(() => {
      const lease = this.readLease();
      if (lease && (lease.owner !== this.owner || lease.id !== id)) {
        clearInterval(renew);
        this.lost(id, null);
      } else {
        this.writeLease(id);
      }
    }, LEASE_RENEW_MS);
    this.granted(id, () => {
      clearInterval(renew);
      const lease = this.readLease();
      if (lease && lease.owner === this.owner && lease.id === id) {
        try {
          localStorage.removeItem(this.leaseKey());
        } catch {
          // Nothing to do: the lease expires by itself.
        }
      }
    });
    void controller;
  }
}
