import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpstashApiFake } from "../../test/fakes/upstash/upstashApiFake";
import { deleteKvDatabase, ensureKvDatabase, kvDatabaseExists } from "./kvDatabase";
import { upstashApi } from "./upstashDeveloperApi";

describe("Upstash developer API client (local fake shaped after the API docs)", () => {
  const fake = new UpstashApiFake();
  const settings = () => ({ kind: "upstash" as const, email: fake.email, apiKey: fake.apiKey, primaryRegion: "eu-central-1", apiBaseUrl: fake.url });
  beforeAll(async () => {
    await fake.start();
  });
  afterAll(async () => {
    await fake.stop();
  });

  it("creates a global database once and adopts it on a rerun, publishing its REST URL and token", async () => {
    const first = await ensureKvDatabase(settings(), "bloom-staging");
    const again = await ensureKvDatabase(settings(), "bloom-staging");
    expect(again).toEqual(first);
    expect(first.restUrl).toMatch(/^https:\/\/bloom-staging-.*\.upstash\.invalid$/);
    expect(first.restToken).toMatch(/^tok-/);
    expect(fake.requests.filter((r) => r.method === "POST")).toHaveLength(1);
  });

  it("retries 429 honouring Retry-After", async () => {
    fake.throttleNext(1);
    const sleeps: number[] = [];
    const api = upstashApi({ email: fake.email, apiKey: fake.apiKey, apiBaseUrl: fake.url }, async (ms) => void sleeps.push(ms));
    expect(await api.findDatabase("bloom-staging")).toBeDefined();
    expect(sleeps).toEqual([1000]);
  });

  it("deletes by id, idempotently, and reports existence for refresh", async () => {
    const db = await ensureKvDatabase(settings(), "bloom-to-delete");
    expect(await kvDatabaseExists(settings(), db.databaseId)).toBe(true);
    await deleteKvDatabase(settings(), db.databaseId);
    await deleteKvDatabase(settings(), db.databaseId);
    expect(await kvDatabaseExists(settings(), db.databaseId)).toBe(false);
  });

  it("fails with the status and operation on a wrong key or a bad region", async () => {
    await expect(ensureKvDatabase({ ...settings(), apiKey: "wrong" }, "x")).rejects.toThrow(/upstash list databases failed \(HTTP 401\)/);
    await expect(ensureKvDatabase({ ...settings(), primaryRegion: "mars-1" }, "bloom-mars")).rejects.toThrow(/create database failed \(HTTP 400\).*primary_region/);
  });
});
