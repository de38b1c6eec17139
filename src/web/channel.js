// Messages between the tabs of one app: BroadcastChannel, or `storage` events where it is missing.
// Only strings travel; anything else received is passed on as "" so the core counts it as garbage.

export class PeerChannel {
  constructor(name, onMessage) {
    this.onMessage = onMessage;
    this.key = `authlane:channel:${name}`;
    this.signOutKey = `authlane:signed-out:${name}`;
    this.name = name;
    this.serial = 0;
    try {
      if (typeof BroadcastChannel === "function") {
        this.channel = new BroadcastChannel(`authlane:${name}`);
        this.channel.onmessage = (event) => onMessage(typeof event.data === "string" ? event.data : "");
      } else if (typeof addEventListener === "function" && typeof localStorage !== "undefined") {
        // Fallback: a set-then-remove of a unique value fires `storage` in every other tab.
        this.onStorage = (event) => {
          if (event.key !== this.key || !event.newValue) return;
          const separator = event.newValue.indexOf(":");
          onMessage(separator >= 0 ? event.newValue.slice(separator + 1) : "");
        };
        addEventListener("storage", this.onStorage);
      }
    } catch {
      // No way to reach other tabs (no BroadcastChannel and storage blocked, as in an opaque
      // origin): this tab works alone, its posts go nowhere.
    }
  }

  post(text) {
    if (this.channel) {
      this.channel.postMessage(text);
    } else if (this.onStorage) {
      try {
        localStorage.setItem(this.key, `${Date.now()}-${++this.serial}:${text}`);
        localStorage.removeItem(this.key);
      } catch {
        // Storage unavailable: this tab simply coordinates with nobody.
      }
    }
  }

  // The latest sign-out, kept for tabs opened later (a message reaches only the tabs open now).
  // A time, never a token; 0 when storage is unavailable or empty. Written as given: the core
  // records only times at least as late as every sign-out it has seen, or a time from the future
  // cut to now (a record of "1e300" must not refuse every later one).
  recordSignOut(at) {
    try {
      localStorage.setItem(this.signOutKey, String(at));
    } catch {
      // Storage unavailable: tabs opened later cannot learn of this sign-out.
    }
  }

  lastSignOut() {
    try {
      const at = Number(localStorage.getItem(this.signOutKey));
      return Number.isFinite(at) && at > 0 ? at : 0;
    } catch {
      return 0;
    }
  }

  // The app's backoff and clock skew, kept for tabs opened later as the peer messages that carry
  // them (`slot` is "backoff" or "clock"; no text empties it). Times, never a token.
  remember(slot, text) {
    try {
      if (text == null) localStorage.removeItem(`authlane:${slot}:${this.name}`);
      else localStorage.setItem(`authlane:${slot}:${this.name}`, text);
    } catch {
      // Storage unavailable: tabs opened later learn these again, at the cost of a fetch.
    }
  }

  recall(slot) {
    try {
      return localStorage.getItem(`authlane:${slot}:${this.name}`);
    } catch {
      return null;
    }
  }

  close() {
    if (this.channel) this.channel.close();
    if (this.onStorage) removeEventListener("storage", this.onStorage);
  }
}
