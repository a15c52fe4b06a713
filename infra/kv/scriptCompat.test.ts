import { describe, expect, it } from "vitest";
import { adaptScript, ScriptShaMap, sha1, translateScriptCommand } from "./scriptCompat";

describe("Lua script compatibility for the local endpoint", () => {
  it("drops only the flags open-source Redis does not know", () => {
    expect(adaptScript("#!lua flags=allow-key-locking\nreturn 1")).toBe("#!lua\nreturn 1");
    expect(adaptScript("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe("#!lua flags=no-writes\nreturn 1");
    expect(adaptScript("return 1")).toBe("return 1");
  });

  it("keeps the client's SHA1: SCRIPT LOAD answers it and EVALSHA with it reaches the adapted script", () => {
    const shas = new ScriptShaMap();
    const original = "#!lua flags=allow-key-locking\nreturn 1";
    const load = translateScriptCommand(["SCRIPT", "LOAD", original], shas);
    expect(load.loadedSha).toBe(sha1(original));
    expect(load.command[2]).toBe("#!lua\nreturn 1");
    expect(translateScriptCommand(["EVALSHA", sha1(original), "0"], shas).command[1]).toBe(sha1("#!lua\nreturn 1"));
    expect(translateScriptCommand(["EVALSHA", "abc", "0"], shas).command[1]).toBe("abc");
  });
});
