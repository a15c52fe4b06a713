import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import path from "node:path";
import Redis from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { ensureStoreRedis, stopStoreRedis } from "./localRedis";
import { startUpstashRestServer } from "./upstashRestServer";
import { adminCommand } from "./adminCommand";

/** The local store's own redis-server, in a scratch state dir on its own port (not the harness's). */
const root = mkdtempSync(path.join(tmpdir(), "bloom-store-"));
const stateDir = path.join(root, ".bloom");
const port = 6391 + Math.floor(Math.random() * 5);

afterAll(async () => {
  stopStoreRedis({ stateDir, port });
  await new Promise((r) => setTimeout(r, 300));
  rmSync(root, { recursive: true, force: true });
});

/** One command over a bare socket, no client library: its raw RESP reply. */
function reply(command: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write(`*${command.length}\r\n${command.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`));
    socket.once("data", (d) => { socket.destroy(); resolve(d.toString()); });
    socket.once("error", reject);
  });
}

describe("the local store's redis-server", () => {
  it("has no usable default user, one admin whose password is on no command line and in no file but its secret, and a traversable .bloom", async () => {
    const store = await ensureStoreRedis({ stateDir, port });
    expect(store.started).toBe(true);
    const password = decodeURIComponent(new URL(store.adminUrl).password);

    expect(await reply(["SET", "x", "1"])).toMatch(/^-NOAUTH/); // no login: the default user is off
    expect(await reply(["AUTH", "default", "anything"])).toMatch(/^-WRONGPASS/); // nor with any password

    const admin = new Redis(store.adminUrl);
    expect(await admin.call("ACL", "WHOAMI")).toBe("bloom-admin");
    admin.disconnect();

    const dir = path.join(stateDir, `redis-${port}`);
    for (const f of ["redis.conf", "users.acl"]) expect(readFileSync(path.join(dir, f), "utf8")).not.toContain(password);
    expect(statSync(path.join(dir, "admin.secret")).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(stateDir).mode & 0o055).toBe(0o055); // PgBouncer and Postgres run as another user and need to traverse it
    const commandLine = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(`redis-server`) && l.includes(String(port)));
    expect(commandLine.length).toBeGreaterThan(0);
    expect(commandLine.join("\n")).not.toContain(password);

    expect((await ensureStoreRedis({ stateDir, port })).started).toBe(false); // a second ensure finds it running
  });

  it("keeps what the stack wrote across a stop: keys (append-only file) and the users made through the endpoint (ACL file)", async () => {
    const store = await ensureStoreRedis({ stateDir, port });
    const server = await startUpstashRestServer({ redisUrl: store.adminUrl, token: "admin-token" });
    const token = String(await adminCommand(server.url, "admin-token", ["ACL", "GENTOKEN", "kept-user"]));
    await adminCommand(server.url, "admin-token", ["ACL", "SETUSER", "kept-user", "reset", "on", `>${token}`, "~kept:*", "+get"]);
    await adminCommand(server.url, "admin-token", ["SET", "kept:budget", "42"]);
    await server.close();
    await new Promise((r) => setTimeout(r, 1_100)); // appendfsync everysec
    stopStoreRedis({ stateDir, port });
    for (let i = 0; i < 40 && (await reply(["PING"]).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));

    const again = await ensureStoreRedis({ stateDir, port });
    expect(again.started).toBe(true);
    const restarted = await startUpstashRestServer({ redisUrl: again.adminUrl, token: "admin-token" });
    try {
      expect(await adminCommand(restarted.url, token, ["GET", "kept:budget"])).toBe("42"); // as the kept user
    } finally {
      await restarted.close();
    }
  });
});

