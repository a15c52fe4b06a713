import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NeonFake } from "./neonFake";

/** The fake is the test of the Neon backend: it must flag every request the real API would not accept. */
describe("the Neon fake records every off-spec request as a problem", () => {
  let fake: NeonFake;
  const send = (path: string, init: RequestInit = {}) =>
    fetch(`${fake.url}${path}`, { ...init, headers: { authorization: `Bearer ${fake.apiKey}`, "content-type": "application/json", ...(init.headers as Record<string, string> | undefined) } });

  beforeEach(async () => {
    fake = new NeonFake("fake-key", 0);
    await fake.start();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it("an unknown route: 404 and a problem (the backend reads 404 as absent, so it must not pass silently)", async () => {
    expect((await send("/projectz")).status).toBe(404);
    expect(fake.problems).toEqual([expect.stringMatching(/GET \/projectz: no such route/)]);
  });

  it("a body that is not JSON, or not sent as JSON", async () => {
    expect((await send("/projects", { method: "POST", body: "{not json" })).status).toBe(400);
    await send("/projects", { method: "POST", body: JSON.stringify({ project: { name: "p" } }), headers: { "content-type": "text/plain" } });
    expect(fake.problems).toEqual([expect.stringMatching(/not valid JSON/), expect.stringMatching(/content-type is "text\/plain"/)]);
  });

  it("a missing key is a problem unless the test expects it", async () => {
    expect((await fetch(`${fake.url}/projects`)).status).toBe(401);
    expect(fake.problems).toEqual([expect.stringMatching(/no valid API key/)]);
    fake.expectAuthFailures = true;
    await fetch(`${fake.url}/projects`);
    expect(fake.problems).toHaveLength(1);
  });

  it("an injected fault still validates the request it answers", async () => {
    fake.injectFault(503, 1);
    expect((await send("/projects", { method: "POST", body: JSON.stringify({ project: { name: 7 } }) })).status).toBe(400);
    expect(fake.problems).toEqual([expect.stringMatching(/POST \/projects: body:/)]);
  });
});
