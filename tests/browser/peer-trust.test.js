// Issue 12 items 1 and 2 in Chromium: sessions of different backends on one page never share a
// token by default, and a lying peer (an expired token with a huge expiresAt, a token without
// exp, another backend's token, times far in the future, a sign-out time of "1e300" in
// localStorage) poisons neither the tab nor tabs opened later. Sessions on one page stand in for
// tabs: BroadcastChannel, Web Locks and localStorage connect them exactly as they connect tabs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { startStaticServer } from "../support/static-server.js";
import { inHarnessPage } from "../support/harness-page.js";

let browser;
let server;

before(async () => {
  server = await startStaticServer(["pkg", "tests/browser/pages", "tests/support"]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/**
 * Installs `window.liarOn(name)`: a BroadcastChannel on an app's name that sends raw text, and
 * resolves once the text was delivered (an observer created after the sessions' channels hears
 * it after them).
 */
function installLiar() {
  window.liarOn = (name) => {
    const liar = new BroadcastChannel(`authlane:${name}`);
    const observer = new BroadcastChannel(`authlane:${name}`);
    return {
      deliver: (text) =>
        new Promise((done) => {
          observer.onmessage = () => done();
          liar.postMessage(text);
        }),
      close: () => (liar.close(), observer.close()),
    };
  };
}

/** Runs `body` in a fresh harness page with the liar installed. */
const inPage = (body, arg) => inHarnessPage(browser, server.origin, body, arg, installLiar);

describe("sessions of different backends", () => {
  test("two sessions on one page with different backends and no name each keep their own token; one name shares", async () => {
    const outcome = await inPage(async () => {
      const { authlane, FakeConvexClient, mint, flush } = window.harness;
      const audienceOf = (token) => JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).aud;
      /** Two sessions started together; `make(aud)` gives each one's options. Returns who got what. */
      const pair = async (make, wrapAddress) => {
        const calls = { a: 0, b: 0 };
        const sessions = ["a", "b"].map((aud) => {
          const auth = authlane.createAuth(make(aud, () => calls[aud]++));
          if (wrapAddress) {
            const client = new FakeConvexClient();
            client.url = `https://${aud}.example.test`;
            auth.wrap(client);
          }
          return auth;
        });
        const tokens = await Promise.all(sessions.map((auth) => auth.getToken()));
        await flush();
        const audiences = tokens.map(audienceOf);
        for (const auth of sessions) auth.dispose();
        return { audiences, calls: [calls.a, calls.b] };
      };
      // A factory: both callbacks have the same source text; the wrapped clients' addresses differ.
      const factory = (aud, count) => ({ fetchAccessToken: async () => (count(), mint(600, { aud })) });
      const wrapped = await pair(factory, true);
      // No client wrapped: the callbacks' source texts differ (as two providers' or audiences' do).
      const sources = {
        a: (count) => async () => (count(), mint(600, { aud: "a" })),
        b: (count) => async () => (count(), mint(600, { aud: "b" }) /* the other backend */),
      };
      const callbacks = await pair((aud, count) => ({ fetchAccessToken: sources[aud](count) }), false);
      // Control: one explicit name on both makes them share (so the two cases above could fail).
      const named = await pair((aud, count) => ({ ...factory(aud, count), crossTab: { name: "one-app" } }), true);
      return { wrapped, callbacks, named };
    });
    console.log(`# different backends: wrapped ${JSON.stringify(outcome.wrapped)}, callbacks ${JSON.stringify(outcome.callbacks)}; one name: ${JSON.stringify(outcome.named)}`);
    assert.deepEqual(outcome.wrapped.audiences, ["a", "b"], "a session took the other backend's token (wrapped clients)");
    assert.deepEqual(outcome.callbacks.audiences, ["a", "b"], "a session took the other backend's token (callbacks)");
    assert.ok(outcome.wrapped.calls.every((n) => n >= 1), "a session did not fetch its own token");
    // With one name the second session adopts the first's token (whichever fetched first) and does not fetch.
    assert.equal(new Set(outcome.named.audiences).size, 1, "sessions sharing a name did not share");
    assert.equal(outcome.named.calls[0] + outcome.named.calls[1], 1);
  });
  test("with crossTab off, sessions of different backends keep their stored tokens under different keys", async () => {
    const outcome = await inPage(async () => {
      const { authlane, mint } = window.harness;
      const audienceOf = (token) => JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).aud;
      const calls = { a: 0, b: 0 };
      const callbacks = {
        a: async () => (calls.a++, mint(600, { aud: "a" })),
        b: async () => (calls.b++, mint(600, { aud: "b" }) /* the other backend */),
      };
      const first = authlane.createAuth({ fetchAccessToken: callbacks.a, crossTab: false, storage: "local" });
      await first.getToken();
      first.dispose();
      // A page of the other app on the same origin, opened afterwards: it must not restore the first's token.
      const second = authlane.createAuth({ fetchAccessToken: callbacks.b, crossTab: false, storage: "local" });
      const audience = audienceOf(await second.getToken());
      second.dispose();
      return { audience, calls, keys: Object.keys(localStorage).filter((key) => key.endsWith(":token")).length };
    });
    console.log(`# crossTab off, storage local: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.audience, "b", "the second app restored the first app's stored token");
    assert.deepEqual(outcome.calls, { a: 1, b: 1 });
    assert.equal(outcome.keys, 2);
  });
});

describe("lying peers", () => {
  test("an expired token with a huge expiresAt, a token without exp, another backend's token: the tab keeps its own", async () => {
    const outcome = await inPage(async () => {
      const { authlane, mint } = window.harness;
      const name = "liars";
      const auth = authlane.createAuth({ fetchAccessToken: async () => mint(600), crossTab: { name } });
      await auth.getToken();
      // A forced refresh, as every tab has done after its first refresh: the tab knows its clock's skew.
      const own = await auth.getToken({ forceRefresh: true });
      const liar = window.liarOn(name);
      const deliver = liar.deliver;
      const now = Date.now();
      const U64_MAX = "18446744073709551615";
      const token = (lifetime, options) => mint(lifetime, options);
      const noExp = (() => {
        const [header, payload, signature] = mint(600).split(".");
        const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
        delete claims.exp;
        return [header, btoa(JSON.stringify(claims)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"), signature].join(".");
      })();
      const lies = {
        expiredHugeExpiry: `{"v":1,"at":${now},"kind":"token","token":"${token(60, { iatOffsetSeconds: -3600 })}","expiresAt":${U64_MAX}}`,
        expiredNoTime: `{"v":1,"kind":"token","token":"${token(60, { iatOffsetSeconds: -3600 })}","expiresAt":${U64_MAX}}`,
        noExp: `{"v":1,"at":${now},"kind":"token","token":"${noExp}","expiresAt":${now + 3_600_000}}`,
        otherAudience: `{"v":1,"at":${now},"kind":"token","token":"${token(3600, { aud: "hasura" })}","expiresAt":${now + 3_600_000}}`,
        otherIssuer: `{"v":1,"at":${now},"kind":"token","token":"${token(3600, { iss: "https://elsewhere.test" })}","expiresAt":${now + 3_600_000}}`,
      };
      const kept = {};
      for (const [lie, text] of Object.entries(lies)) {
        await deliver(text);
        kept[lie] = (await auth.getToken()) === own;
      }
      // And the control: a genuine longer-lived token of the same backend and user is taken.
      const genuine = token(3600);
      await deliver(`{"v":1,"at":${Date.now()},"kind":"token","token":"${genuine}","expiresAt":${Date.now() + 3_600_000}}`);
      const tookGenuine = (await auth.getToken()) === genuine;
      auth.dispose();
      liar.close();
      return { kept, tookGenuine };
    });
    console.log(`# lies refused: ${JSON.stringify(outcome.kept)}; genuine taken: ${outcome.tookGenuine}`);
    assert.deepEqual(outcome.kept, { expiredHugeExpiry: true, expiredNoTime: true, noExp: true, otherAudience: true, otherIssuer: true });
    assert.equal(outcome.tookGenuine, true, "the control token was not taken: the lies were not delivered either");
  });

  test("times far in the future neither make a tab immune to a later sign-out nor block a later sign-in", async () => {
    const outcome = await inPage(async () => {
      const { authlane, mint, flush } = window.harness;
      const name = "future";
      const U64_MAX = "18446744073709551615";
      const fetches = { tab: 0, other: 0 };
      const tab = authlane.createAuth({ fetchAccessToken: async () => (fetches.tab++, mint(600)), crossTab: { name } });
      const other = authlane.createAuth({ fetchAccessToken: async () => (fetches.other++, mint(600)), crossTab: { name } });
      await Promise.all([tab.getToken(), other.getToken()]);
      const liar = window.liarOn(name);
      const deliver = liar.deliver;
      // A token "fetched" at u64::MAX: taken (it is this app's and lives longer), but not forever.
      const immortal = mint(3600);
      await deliver(`{"v":1,"at":${U64_MAX},"kind":"token","token":"${immortal}","expiresAt":${Date.now() + 3_600_000}}`);
      const tookImmortal = (await tab.getToken()) === immortal;
      // A later sign-out in the other tab signs this one out.
      await new Promise((done) => setTimeout(done, 5)); // a later millisecond than the token's arrival
      await other.signOut();
      await flush();
      await new Promise((done) => {
        if (tab.getState().status === "unauthenticated") return done();
        const stop = tab.subscribe(() => tab.getState().status === "unauthenticated" && (stop(), done()));
        // Bounded: if the sign-out never takes, the state is read after its broadcast has surely landed.
        setTimeout(() => (stop(), done()), 2_000);
      });
      const afterSignOut = tab.getState().status;
      // A sign-out "at" u64::MAX, then a sign-in in the other tab: it reaches this one.
      await deliver(`{"v":1,"at":${U64_MAX},"kind":"signed_out"}`);
      await new Promise((done) => setTimeout(done, 5));
      const signedIn = await other.getToken();
      await new Promise((done) => {
        if (tab.getState().status === "authenticated") return done();
        const stop = tab.subscribe(() => tab.getState().status === "authenticated" && (stop(), done()));
        // Bounded: if the sign-in never arrives, the state is read after the other tab's broadcast has surely landed.
        setTimeout(() => (stop(), done()), 2_000);
      });
      const reached = tab.getState().status === "authenticated" && (await tab.getToken()) === signedIn;
      const record = localStorage.getItem(`authlane:signed-out:${name}`);
      for (const auth of [tab, other]) auth.dispose();
      liar.close();
      return { tookImmortal, afterSignOut, reached, record: Number(record), now: Date.now(), fetches };
    });
    console.log(`# future times: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.tookImmortal, true);
    assert.equal(outcome.afterSignOut, "unauthenticated", "a token sent at u64::MAX outlived a later sign-out");
    assert.equal(outcome.reached, true, "a sign-out sent at u64::MAX blocked a later sign-in");
    assert.ok(outcome.record <= outcome.now, `the recorded sign-out ${outcome.record} is past the clock`);
  });

  test('a recorded sign-out of "1e300" is believed as now once and healed: a tab opened later restores the stored token without a fetch', async () => {
    const outcome = await inPage(async () => {
      const { authlane } = window.harness;
      const name = "poisoned";
      const { mint } = window.harness;
      localStorage.setItem(`authlane:signed-out:${name}`, "1e300");
      const fetches = [];
      const open = async (label) => {
        const auth = authlane.createAuth({ fetchAccessToken: async () => (fetches.push(label), mint(600)), crossTab: { name }, storage: "local" });
        const snapshot = await auth.settled;
        return { auth, status: snapshot.status };
      };
      const first = await open("first");
      const healed = localStorage.getItem(`authlane:signed-out:${name}`);
      const stored = localStorage.getItem(`authlane:${name}:token`) !== null;
      first.auth.dispose();
      await new Promise((done) => setTimeout(done, 5)); // opened in a later millisecond, as a later tab is
      const later = await open("later");
      later.auth.dispose();
      return { first: first.status, later: later.status, healed: Number(healed), now: Date.now(), stored, fetches };
    });
    console.log(`# "1e300" recorded: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.first, "authenticated");
    assert.ok(outcome.healed <= outcome.now, `the record still says ${outcome.healed}`);
    assert.equal(outcome.stored, true, "the first tab stored no token");
    assert.equal(outcome.later, "authenticated");
    assert.deepEqual(outcome.fetches, ["first"], "the later tab could not restore the stored token");
  });
});
