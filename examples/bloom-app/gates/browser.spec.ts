import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { expect, test, type Page } from "@playwright/test";
import { SECURITY_HEADERS } from "@bloom/tenant-runtime";

// The headers in a real browser (Debian's Chromium): on the rendered page, and the CSP enforced — eval and a script
// from another loopback origin blocked while the app's own script runs. The same probe served by that other origin
// (no CSP) runs both: the probe can tell a missing CSP from a working one.
let other: Server;
let otherOrigin = "";
let foreignHits = 0;
const probeHtml = readFileSync(path.join(__dirname, "..", "public", "csp-probe.html"), "utf8");

test.beforeAll(async () => {
  other = createServer((req, res) => {
    if (req.url?.startsWith("/foreign.js")) {
      foreignHits++;
      res.writeHead(200, { "content-type": "text/javascript" }).end("window.__foreignRan = true;");
    } else if (req.url?.startsWith("/csp-probe-self.js")) {
      res.writeHead(200, { "content-type": "text/javascript" }).end("window.__sameOriginRan = true;");
    } else res.writeHead(200, { "content-type": "text/html" }).end(probeHtml);
  });
  await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
  otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});
test.afterAll(() => new Promise<void>((r) => other.close(() => r())));

function consoleOf(page: Page): string[] {
  const lines: string[] = [];
  page.on("console", (m) => lines.push(`[${m.type()}] ${m.text()}`));
  return lines;
}

async function probe(page: Page, url: string) {
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as { __probe?: unknown }).__probe !== undefined);
  return page.evaluate(() => (globalThis as unknown as { __probe: { eval: string; sameOrigin: string; foreign: string; violations: { directive: string; blocked: string }[] } }).__probe);
}

test("the rendered page carries the five headers and renders under the CSP", async ({ page }) => {
  const lines = consoleOf(page);
  const res = await page.goto("/");
  expect(res!.status()).toBe(200);
  const headers = await res!.allHeaders();
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(headers[name.toLowerCase()], name).toBe(value);
  await expect(page.getByRole("heading", { name: "Bloom example app" })).toBeVisible();
  expect(lines.filter((l) => /Content Security Policy/i.test(l))).toEqual([]); // the app's own scripts are allowed
});

test("the CSP blocks eval and another origin's script, and lets the app's own run", async ({ page }) => {
  const lines = consoleOf(page);
  foreignHits = 0;
  const got = await probe(page, `/csp-probe.html?foreign=${encodeURIComponent(`${otherOrigin}/foreign.js`)}`);
  console.log(`[browser console, app origin]\n${lines.join("\n")}`);
  expect(got.eval).toMatch(/^blocked \(EvalError\)$/);
  expect(got.sameOrigin).toBe("ran");
  expect(got.foreign).toBe("blocked");
  expect(foreignHits).toBe(0); // refused before any request left the browser
  expect(got.violations).toEqual(expect.arrayContaining([{ directive: "script-src", blocked: "eval" }, { directive: "script-src-elem", blocked: `${otherOrigin}/foreign.js` }]));
  expect(lines.filter((l) => /foreign\.js' violates the following Content Security Policy directive: "script-src 'self' 'unsafe-inline'".*blocked/.test(l))).toHaveLength(1);
});

test("control: the same probe without the CSP runs eval and the foreign script", async ({ page }) => {
  const got = await probe(page, `${otherOrigin}/csp-probe.html?foreign=${encodeURIComponent(`${otherOrigin}/foreign.js`)}`);
  expect({ eval: got.eval, sameOrigin: got.sameOrigin, foreign: got.foreign, violations: got.violations }).toEqual({ eval: "ran", sameOrigin: "ran", foreign: "ran", violations: [] });
});
