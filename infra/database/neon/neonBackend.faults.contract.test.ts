import { hoursFromNow } from "../../time";
import { createApiClient } from "@neondatabase/api-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BackendError } from "../backend";
import { NeonBackend } from "./neonBackend";
import { NeonFake } from "../../../test/fakes/neon/neonFake";

/** Neon's failure modes, reproduced by the fake: the backend must wait, retry, and fail with names. */
describe("Neon backend under Neon's failure modes (fake)", () => {
  let fake: NeonFake;
  let sleeps: number[];
  const backend = (overrides: Partial<ConstructorParameters<typeof NeonBackend>[0]> = {}) =>
    new NeonBackend({
      apiKey: fake.apiKey,
      apiBaseUrl: fake.url,
      pollIntervalMs: 10,
      operationTimeoutMs: 5_000,
      retry: { baseDelayMs: 5, maxDelayMs: 40, maxTotalWaitMs: 5_000, sleep: async (ms) => { sleeps.push(ms); await new Promise((r) => setTimeout(r, Math.min(ms, 20))); } },
      ...overrides,
    });

  beforeEach(async () => {
    fake = new NeonFake("fake-key", 60);
    sleeps = [];
    await fake.start();
  });
  afterEach(async () => {
    await fake.stop();
    expect(fake.problems).toEqual([]);
  });

  it("waits for the operations a create returns before handing the branch out", async () => {
    const b = backend();
    const project = await b.ensureProject({ name: "ops", regionId: "aws-eu-central-1", pgVersion: 17 });
    await b.ensureBranch({ projectId: project.projectId, name: "snap" });
    expect(fake.count("GET", /\/operations\//)).toBeGreaterThan(0);
    // Every operation the fake handed out was polled until it reported finished before ensureBranch returned.
    const handedOut = fake.allOperationIds();
    expect(handedOut.length).toBeGreaterThanOrEqual(3); // create_timeline + start_compute (project), create_branch (snapshot)
    expect(handedOut.filter((id) => !fake.operationsSeenEnded.has(id))).toEqual([]);
  });

  it("enables logical replication on a project (an online move's source) and waits for the computes' suspension; enabling again succeeds, disabling is refused like Neon does", async () => {
    const b = backend();
    const project = await b.ensureProject({ name: "logical", regionId: "aws-eu-central-1" });
    await b.enableLogicalReplication(project.projectId);
    const patches = fake.requests.filter((r) => r.method === "PATCH");
    expect(patches).toHaveLength(1);
    expect(fake.allOperationIds().filter((id) => !fake.operationsSeenEnded.has(id))).toEqual([]);
    await b.enableLogicalReplication(project.projectId);
    const raw = createApiClient({ apiKey: fake.apiKey, baseURL: fake.url });
    await expect(raw.updateProject(project.projectId, { project: { settings: { enable_logical_replication: false } } })).rejects.toMatchObject({ response: { status: 400 } });
  });

  it("retries 423 Locked while another operation runs on the project", async () => {
    const b = backend();
    const project = await b.ensureProject({ name: "locked", regionId: "aws-eu-central-1" });
    // Start an operation behind the backend's back, then ask for a branch at once: Neon answers 423 until it ends.
    const raw = createApiClient({ apiKey: fake.apiKey, baseURL: fake.url });
    fake.operationMs = 600; // long enough that the lock is still held however slow the machine is
    await raw.createProjectBranch(project.projectId, { branch: { name: "other" } });
    await b.ensureBranch({ projectId: project.projectId, name: "mine" });
    expect(fake.requests.some((r) => r.status === 423)).toBe(true);
    expect(fake.count("POST", /\/branches$/)).toBeGreaterThanOrEqual(3); // raw + at least one 423 + success
  });

  it("honours Retry-After on 429 and retries 503", async () => {
    const b = backend();
    fake.injectFault(429, 2, { retryAfter: "1", when: (m, p) => m === "GET" && p === "/projects" });
    fake.injectFault(503, 1, { when: (m, p) => m === "POST" && p === "/projects" });
    const project = await b.ensureProject({ name: "throttled", regionId: "aws-eu-central-1" });
    expect(project.projectId).toMatch(/^fake-/);
    expect(sleeps.filter((ms) => ms >= 1000)).toHaveLength(2); // both 429s waited at least the advertised second
    expect(fake.requests.filter((r) => r.status === 503)).toHaveLength(1);
  });

  it("gives up after the retry budget with an error naming project and operation", async () => {
    const b = backend({ retry: { baseDelayMs: 5, maxDelayMs: 10, maxTotalWaitMs: 60, sleep: async () => undefined } });
    fake.injectFault(503, 1000);
    await expect(b.ensureProject({ name: "down" })).rejects.toThrow(/neon listProjects, project "down".*HTTP 503.*rerun later/);
  });

  it("fails with the failed operation's action and error, naming project and branch", async () => {
    const b = backend();
    const project = await b.ensureProject({ name: "failing", regionId: "aws-eu-central-1" });
    fake.failNextOperation("create_branch", "storage unavailable");
    const err = await b.ensureBranch({ projectId: project.projectId, name: "doomed" }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(new RegExp(`project "${project.projectId}", branch "doomed".*create_branch.*failed: storage unavailable`));
  });

  it("adopts a branch a crashed run created instead of creating a second one", async () => {
    const b = backend();
    const project = await b.ensureProject({ name: "crash", regionId: "aws-eu-central-1" });
    const raw = createApiClient({ apiKey: fake.apiKey, baseURL: fake.url });
    const created = (await raw.createProjectBranch(project.projectId, { branch: { name: "pre-deploy" } })).data.branch;
    await new Promise((r) => setTimeout(r, 80)); // the crashed run's operation finishes
    const adopted = await b.ensureBranch({ projectId: project.projectId, name: "pre-deploy" });
    expect(adopted.branchId).toBe(created.id);
    expect(fake.count("POST", /\/branches$/)).toBe(1);
  });

  it("reports a wrong API key without retrying", async () => {
    const b = new NeonBackend({ apiKey: "wrong", apiBaseUrl: fake.url });
    fake.expectAuthFailures = true;
    await expect(b.ensureProject({ name: "x" })).rejects.toThrow(/HTTP 401/);
    expect(fake.requests).toHaveLength(1);
  });

  it("branches at a point in time and with an expiry, as Neon's API spells them", async () => {
    const b = backend();
    const project = await b.ensureProject({ name: "pitr", regionId: "aws-eu-central-1" });
    const expiresAt = hoursFromNow(48); // relative: Neon takes an expiry at most 30 days ahead
    const branch = await b.ensureBranch({ projectId: project.projectId, name: "pitr-1", at: "2026-11-27T08:00:00Z", expiresAt });
    expect(branch.expiresAt).toBe(expiresAt);
    const post = fake.requests.find((r) => r.method === "POST" && /\/branches$/.test(r.path))!;
    expect(post.body).toMatchObject({ branch: { name: "pitr-1", parent_timestamp: "2026-11-27T08:00:00Z", expires_at: expiresAt } });
  });
});
