import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureEmbeddedServer, stopEmbeddedServer } from "./embeddedPostgres";
import { createDatabaseBackend } from "../createBackend";
import { query } from "../../../test/postgres";

describe("embedded Postgres (no server URL configured)", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "bloom-embedded-"));
  afterAll(() => {
    stopEmbeddedServer(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("starts a server from the npm package's binaries, survives a second ensure, and backs the local backend", async () => {
    const first = ensureEmbeddedServer(dataDir, 54339);
    const second = ensureEmbeddedServer(dataDir, 54339);
    expect(second.url).toBe(first.url);
    const [{ v }] = (await query<{ v: string }>(first.url, "SELECT current_setting('server_version') AS v")) as [{ v: string }];
    expect(Number(v.split(".")[0])).toBeGreaterThanOrEqual(15);
    const backend = createDatabaseBackend({ kind: "local", embeddedDataDir: dataDir, serverUrl: undefined });
    const project = await backend.ensureProject({ name: "embedded-check" });
    expect((await backend.listBranches(project.projectId)).map((b) => b.name)).toEqual(["main"]);
    await backend.close();
  });
});
