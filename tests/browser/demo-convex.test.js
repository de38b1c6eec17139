// The demo against a real server, as `make demo` runs it: the demo build (www/build-demo.js, the
// real-convex page bundled by esbuild) and the devserver binary serving /www and /pkg (started by
// www/devserver.js), here on a free port with 4-second tokens. In headless Chromium the page
// signs in with the devserver's issuer, the wrapped ConvexClient's live `messages:list` shows the
// signed-in user, a sent message appears, refresh_token grants keep the session signed in, and
// sign-out shows signed out; two tabs share one session. Event-driven waits only.
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { buildDemo } from "../../www/build-demo.js";
import { startDemoDevserver } from "../../www/devserver.js";
import { launchChromium } from "../support/chromium.js";

let browser;
let server;

before(async () => {
  const repoRoot = new URL("../..", import.meta.url);
  execFileSync("cargo", ["build", "--quiet", "-p", "devserver"], { cwd: repoRoot, stdio: "inherit" });
  await buildDemo({ apps: ["convex"] });
  server = await startDemoDevserver({ port: 0, args: ["--token-lifetime", "4", "--quiet"] });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const text = (page, id) => page.textContent(`#${id}`);
const waitForText = (page, id, wanted, timeout) =>
  page.waitForFunction(([id, wanted]) => document.getElementById(id)?.textContent === wanted, [id, wanted], { timeout });

test("the real-convex demo page: sign in, live messages, send, refreshes stay signed in, sign out", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  try {
    await page.goto(`${server.origin}/www/dist/convex/`);
    assert.equal(await page.title(), "authlane demo — real convex client + devserver");
    // No refresh token yet: signed out, and the subscription (released by the gate) runs anonymous.
    await waitForText(page, "status", "unauthenticated");
    await page.waitForFunction(() => document.getElementById("messages").textContent.includes("Unauthenticated"));

    await page.fill("#sign-in-as", "ada");
    await page.click("#sign-in");
    await waitForText(page, "status", "authenticated");
    assert.equal(await text(page, "subject"), "ada");
    assert.equal(await text(page, "iss"), server.origin);
    // The live messages:list now runs as the signed-in user.
    await waitForText(page, "viewer", "ada");
    assert.match(await text(page, "messages"), /No messages yet/);

    // From here on, record every state the page shows.
    await page.evaluate(() => {
      window.shownStates = [];
      new MutationObserver(() => window.shownStates.push(document.getElementById("status").textContent)).observe(
        document.getElementById("status"),
        { childList: true, characterData: true, subtree: true },
      );
    });

    await page.fill("#message", "hello from ada");
    await page.click("#send");
    await page.waitForFunction(() => {
      const mine = [...document.querySelectorAll("#messages li.mine")].map((li) => li.textContent);
      return mine.length === 1 && mine[0] === "ada hello from ada";
    });

    // 4 s tokens refresh at half-life: wait for two refresh_token grants (sign-in was call 1).
    const callsAtSignIn = Number(await text(page, "calls"));
    await page.waitForFunction((calls) => Number(document.getElementById("calls").textContent) >= calls + 2, callsAtSignIn, { timeout: 12_000 });
    await page.waitForFunction(() => [...document.querySelectorAll("#timeline code")].filter((c) => c.textContent === "server_accepted").length >= 3);
    assert.deepEqual(await page.evaluate(() => window.shownStates), [], "never left the signed-in state");
    assert.equal(await text(page, "status"), "authenticated");
    assert.equal(await text(page, "viewer"), "ada");
    assert.match(await text(page, "expiry"), /^[0-4] s$/);

    // A message sent after the refreshes still goes through as ada.
    await page.fill("#message", "still here");
    await page.click("#send");
    await page.waitForFunction(() => document.querySelectorAll("#messages li.mine").length === 2);

    const stats = await (await fetch(`${server.origin}/debug/stats`)).json();
    assert.equal(stats.authRejections, 0, JSON.stringify(stats));
    assert.equal(stats.reuseDetections, 0, JSON.stringify(stats));
    assert.ok(stats.refreshes >= 2, JSON.stringify(stats));

    await page.click("#sign-out");
    await waitForText(page, "status", "unauthenticated");
    await waitForText(page, "subject", "—");
    await page.waitForFunction(() => document.getElementById("messages").textContent.includes("Unauthenticated"));
    assert.equal(await page.evaluate(() => localStorage.getItem("authlane-demo:convex:refresh-token")), null);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("two tabs of the real-convex page share one session: sign-in reaches both, refreshes are never doubled, sign-out reaches both", async () => {
  const context = await browser.newContext();
  const errors = [];
  const open = async () => {
    const page = await context.newPage();
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${server.origin}/www/dist/convex/`);
    await waitForText(page, "status", "unauthenticated");
    return page;
  };
  try {
    await fetch(`${server.origin}/debug/reset-stats`, { method: "POST" });
    const first = await open();
    const second = await open();
    await first.fill("#sign-in-as", "grace");
    await first.click("#sign-in");
    await waitForText(first, "status", "authenticated");
    // The second tab saw the shared refresh token appear and joined (a peer's token, or one grant).
    await waitForText(second, "status", "authenticated");
    await waitForText(second, "viewer", "grace");

    // Refreshes every ~2 s, by whichever tab holds the lock; both tabs adopt each new token.
    const adoptions = (page) => page.$$eval("#timeline code", (cells) => cells.filter((cell) => cell.textContent.endsWith("token_adopted")).length);
    const seen = await adoptions(first);
    await first.waitForFunction(
      (seen) => [...document.querySelectorAll("#timeline code")].filter((cell) => cell.textContent.endsWith("token_adopted")).length >= seen + 3,
      seen,
      { timeout: 12_000 },
    );
    const totalCalls = () => Promise.all([first, second].map((page) => text(page, "calls"))).then((calls) => calls.reduce((sum, c) => sum + Number(c), 0));
    // The tabs count a call when they send it, the server when it answers: at most one grant
    // (one every ~2 s, from one tab) can be in flight between the two readings.
    const stats = await (await fetch(`${server.origin}/debug/stats`)).json();
    const calls = await totalCalls();
    const answered = stats.signIns + stats.refreshes;
    assert.equal(stats.reuseDetections, 0, "no refresh token spent twice");
    assert.equal(stats.authRejections, 0, JSON.stringify(stats));
    assert.ok(calls === answered || calls === answered + 1, `the tabs' issuer calls (${calls}) are the server's grants (${answered}): none doubled`);
    for (const page of [first, second]) assert.equal(await text(page, "status"), "authenticated");

    await second.click("#sign-out");
    await waitForText(first, "status", "unauthenticated");
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("the in-page issuer's pages link to the real-convex page", async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${server.origin}/www/`);
    const href = await page.getAttribute("nav.live a", "href");
    const response = await context.request.get(new URL(href, page.url()).href);
    assert.equal(response.status(), 200);
    assert.match(await response.text(), /<title>authlane demo — real convex client/);
  } finally {
    await context.close();
  }
});
