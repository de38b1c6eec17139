// An in-page Convex-like client for browser tests. It follows convex-js 1.48's auth flow
// (AuthenticationManager.setConfig / onTransition / tryToReauthenticate / refetchToken) closely
// enough to exercise authlane's adapter, and records every call and wire message in order.
// The "server" is the test: it answers each Authenticate with accept() or reject().

export class FakeConvexClient {
  constructor() {
    this.log = [];
    this.pendingAuthenticate = null;
    this.token = null;
    this.state = "noAuth";
    this.configVersion = 0;
    this.confirmationAttempts = 0;
    this.paused = false;
    this.queued = [];
  }

  setAuth(fetchToken, onChange) {
    this.log.push({ type: "setAuth" });
    this.config = { fetchToken, onChange };
    this.state = "noAuth";
    this.paused = true;
    void this.fetchAndGuard({ forceRefreshToken: false }).then((result) => {
      if (result.outdated) return;
      if (result.token) {
        this.state = "waitingForServerConfirmationOfCachedToken";
        this.authenticate(result.token);
      } else {
        this.state = "initialRefetch";
        void this.refetchToken();
      }
      this.resume();
    });
  }

  clearAuth() {
    this.log.push({ type: "clearAuth" });
    this.token = null;
    this.state = "noAuth";
    this.configVersion++;
  }

  async fetchAndGuard(args) {
    const version = ++this.configVersion;
    this.log.push({ type: "fetchToken", force: args.forceRefreshToken });
    const token = await this.config.fetchToken(args);
    return version === this.configVersion ? { outdated: false, token } : { outdated: true };
  }

  authenticate(token) {
    this.token = token;
    this.pendingAuthenticate = token;
    this.log.push({ type: "Authenticate", tail: token.slice(-6) });
  }

  /** The server accepted the pending Authenticate (a Transition advancing the identity version). */
  accept() {
    if (!this.pendingAuthenticate) throw new Error("no Authenticate to accept");
    this.pendingAuthenticate = null;
    this.log.push({ type: "Accepted" });
    if (this.state === "waitingForServerConfirmationOfCachedToken") {
      void this.refetchToken();
      this.config.onChange(true);
    } else if (this.state === "waitingForServerConfirmationOfFreshToken") {
      const hadAuth = this.hadAuth;
      this.state = "scheduled";
      this.confirmationAttempts = 0;
      if (!hadAuth) this.config.onChange(true);
    }
  }

  /** The server answered the pending Authenticate with AuthError (authUpdateAttempted: true). */
  reject() {
    if (!this.pendingAuthenticate) throw new Error("no Authenticate to reject");
    this.pendingAuthenticate = null;
    this.log.push({ type: "AuthError" });
    void this.tryToReauthenticate();
  }

  async tryToReauthenticate() {
    if (this.state === "noAuth" || (this.state === "waitingForServerConfirmationOfFreshToken" && this.confirmationAttempts >= 2)) {
      this.token = null;
      if (this.state !== "noAuth") this.config.onChange(false);
      this.state = "noAuth";
      return;
    }
    if (this.state === "waitingForServerConfirmationOfFreshToken") this.confirmationAttempts++;
    const hadAuth = this.state === "notRefetching" || this.state === "scheduled";
    await Promise.resolve(); // stopSocket()
    const result = await this.fetchAndGuard({ forceRefreshToken: true });
    if (result.outdated) return;
    if (result.token && result.token !== this.token) {
      this.authenticate(result.token);
      this.state = "waitingForServerConfirmationOfFreshToken";
      this.hadAuth = hadAuth;
    } else {
      this.token = null;
      this.state = "noAuth";
      this.config.onChange(false);
    }
  }

  async refetchToken() {
    if (this.state === "noAuth") return;
    const result = await this.fetchAndGuard({ forceRefreshToken: true });
    if (result.outdated) return;
    if (result.token) {
      if (result.token !== this.token) {
        this.hadAuth = this.token !== null;
        this.state = "waitingForServerConfirmationOfFreshToken";
        this.authenticate(result.token);
      } else {
        this.state = "notRefetching";
      }
    } else {
      this.token = null;
      this.state = "noAuth";
      this.config.onChange(false);
    }
  }

  resume() {
    this.paused = false;
    for (const send of this.queued.splice(0)) send();
  }

  send(message) {
    const deliver = () => this.log.push({ ...message, auth: this.token ? this.token.slice(-6) : null });
    if (this.paused) this.queued.push(deliver);
    else deliver();
  }

  query(name, args) {
    this.send({ type: "query", name });
    return Promise.resolve({ name, args, identity: this.token ? this.token.slice(-6) : null });
  }

  mutation(name, args) {
    this.send({ type: "mutation", name });
    return Promise.resolve({ name, args });
  }

  action(name, args) {
    this.send({ type: "action", name });
    return Promise.resolve({ name, args });
  }

  onUpdate(name, args, callback) {
    this.send({ type: "subscribe", name });
    const unsubscribe = () => this.send({ type: "unsubscribe", name });
    unsubscribe.getCurrentValue = () => "current:" + name;
    return unsubscribe;
  }
}
