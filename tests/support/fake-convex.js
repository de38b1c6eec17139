// The one Convex-like client every suite and the demo use, in the page. It follows convex-js
// 1.48's auth flow (AuthenticationManager.setConfig / onTransition / tryToReauthenticate /
// refetchToken) closely enough to exercise authlane: setAuth fetches a token unforced and sends
// it, pausing other messages meanwhile; once the server confirms a cached token it asks for a
// forced one in the same tick; after an AuthError it asks for a forced one, at most twice for
// fresh tokens, then reports onChange(false). (Unlike convex-js it runs no refresh timer: authlane
// pushes refreshed tokens itself.)
//
// Who answers each Authenticate: by default the test, with accept() or reject(); given `server`
// ({ latencyMs, verdict(token) → boolean }), the client answers itself after latencyMs.
// `log` records every call and wire message in order; `authChanges` only what a UI sees:
// "setAuth", "authenticated", "unauthenticated", "clearAuth".

const tailOf = (token) => (token ? token.slice(-6) : null);

/** What a query/mutation/action resolves with by default: the identity it was sent with. */
const echo = (message, client) => ({ name: message.name, args: message.args, identity: tailOf(client.token) });

export class FakeConvexClient {
  /**
   * `respond(message, client)`: what an operation resolves with once delivered (may be a promise).
   * `onWire(entry)`: sees every log entry as it is recorded (the demo derives its server's state).
   */
  constructor({ server = null, respond = echo, onWire = () => {} } = {}) {
    this.server = server;
    this.respond = respond;
    this.onWire = onWire;
    this.log = [];
    this.authChanges = [];
    this.config = null;
    this.pendingAuthenticate = null;
    this.token = null;
    this.state = "noAuth";
    this.hadAuth = false;
    this.configVersion = 0;
    this.authVersion = 0;
    this.confirmationAttempts = 0;
    this.paused = false;
    this.queued = [];
  }

  record(entry) {
    this.log.push(entry);
    this.onWire(entry);
  }

  reportChange(authenticated) {
    this.authChanges.push(authenticated ? "authenticated" : "unauthenticated");
    this.config.onChange(authenticated);
  }

  setAuth(fetchToken, onChange) {
    this.record({ type: "setAuth" });
    this.authChanges.push("setAuth");
    this.config = { fetchToken, onChange };
    this.state = "noAuth";
    this.confirmationAttempts = 0;
    this.paused = true;
    void this.fetchAndGuard({ forceRefreshToken: false }).then(async (result) => {
      if (result.outdated) return;
      if (result.token) {
        this.state = "waitingForServerConfirmationOfCachedToken";
        this.authenticate(result.token);
      } else {
        this.state = "initialRefetch";
        await this.refetchToken();
      }
      this.resume();
    });
  }

  clearAuth() {
    this.record({ type: "clearAuth" });
    this.authChanges.push("clearAuth");
    this.token = null;
    this.state = "noAuth";
    this.configVersion++;
    this.authVersion++;
    this.resume();
  }

  async fetchAndGuard(args) {
    const version = ++this.configVersion;
    this.record({ type: "fetchToken", force: args.forceRefreshToken });
    const token = await this.config.fetchToken(args);
    return version === this.configVersion ? { outdated: false, token } : { outdated: true };
  }

  authenticate(token) {
    this.token = token;
    this.pendingAuthenticate = token;
    const version = ++this.authVersion;
    this.record({ type: "Authenticate", tail: tailOf(token) });
    if (!this.server) return;
    setTimeout(() => {
      if (version !== this.authVersion) return; // superseded by a newer Authenticate or clearAuth
      if (this.server.verdict(token)) this.accept();
      else this.reject();
    }, this.server.latencyMs ?? 0);
  }

  /** The server accepted the pending Authenticate (a Transition advancing the identity version). */
  accept() {
    if (!this.pendingAuthenticate) throw new Error("no Authenticate to accept");
    this.pendingAuthenticate = null;
    this.record({ type: "Accepted" });
    if (this.state === "waitingForServerConfirmationOfCachedToken") {
      void this.refetchToken();
      this.reportChange(true);
    } else if (this.state === "waitingForServerConfirmationOfFreshToken") {
      this.state = "scheduled";
      this.confirmationAttempts = 0;
      if (!this.hadAuth) this.reportChange(true);
    }
  }

  /** The server answered the pending Authenticate with AuthError (authUpdateAttempted: true). */
  reject() {
    if (!this.pendingAuthenticate) throw new Error("no Authenticate to reject");
    this.pendingAuthenticate = null;
    this.record({ type: "AuthError" });
    void this.tryToReauthenticate();
  }

  fail() {
    this.token = null;
    this.state = "noAuth";
    this.reportChange(false);
  }

  async tryToReauthenticate() {
    if (this.state === "noAuth") return;
    if (this.state === "waitingForServerConfirmationOfFreshToken" && this.confirmationAttempts >= 2) return this.fail();
    if (this.state === "waitingForServerConfirmationOfFreshToken") this.confirmationAttempts++;
    const hadAuth = this.state === "notRefetching" || this.state === "scheduled";
    await Promise.resolve(); // stopSocket()
    if (this.state === "noAuth") return;
    const result = await this.fetchAndGuard({ forceRefreshToken: true });
    if (result.outdated) return;
    if (result.token && result.token !== this.token) {
      this.state = "waitingForServerConfirmationOfFreshToken";
      this.hadAuth = hadAuth;
      this.authenticate(result.token);
    } else {
      this.fail();
    }
  }

  async refetchToken() {
    if (this.state === "noAuth") return;
    const result = await this.fetchAndGuard({ forceRefreshToken: true });
    if (result.outdated) return;
    if (!result.token) return this.fail();
    if (result.token === this.token) {
      this.state = "notRefetching";
      return;
    }
    this.hadAuth = this.token !== null;
    this.state = "waitingForServerConfirmationOfFreshToken";
    this.authenticate(result.token);
  }

  resume() {
    this.paused = false;
    for (const deliver of this.queued.splice(0)) deliver();
  }

  /** Sends a message (held while paused); resolves with `respond`'s answer once delivered. */
  send(message) {
    return new Promise((resolve) => {
      const deliver = () => {
        this.record({ type: message.type, name: message.name, auth: tailOf(this.token) });
        resolve(this.respond(message, this));
      };
      if (this.paused) this.queued.push(deliver);
      else deliver();
    });
  }

  query(name, args) {
    return this.send({ type: "query", name, args });
  }

  mutation(name, args) {
    return this.send({ type: "mutation", name, args }).then(() => ({ name, args }));
  }

  action(name, args) {
    return this.send({ type: "action", name, args }).then(() => ({ name, args }));
  }

  onUpdate(name, args, callback) {
    void this.send({ type: "subscribe", name, args });
    const unsubscribe = () => void this.send({ type: "unsubscribe", name, args });
    unsubscribe.getCurrentValue = () => "current:" + name;
    return unsubscribe;
  }
}
