import { createHash } from "node:crypto";

/**
 * @upstash/ratelimit's Lua scripts start with `#!lua flags=allow-key-locking`, a flag Upstash's server accepts
 * and open-source Redis 7.0 rejects. The local endpoint drops flags Redis does not know before the script reaches
 * it, and keeps the client's view intact: it answers with, and accepts, the SHA1 of the script as the client sent
 * it, mapping that to the SHA1 Redis holds. A forgotten mapping (endpoint restart) is a NOSCRIPT, upon which the
 * client sends EVAL again, as it would against Upstash.
 */
const UPSTASH_ONLY_FLAGS = new Set(["allow-key-locking"]);

export const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

export function adaptScript(script: string): string {
  const match = /^#!lua[^\n]*/.exec(script);
  if (!match) return script;
  const flags = /flags=([^\s]*)/.exec(match[0])?.[1]?.split(",").filter((f) => f && !UPSTASH_ONLY_FLAGS.has(f)) ?? [];
  const shebang = flags.length ? `#!lua flags=${flags.join(",")}` : "#!lua";
  return shebang + script.slice(match[0].length);
}

export class ScriptShaMap {
  private readonly toServer = new Map<string, string>();

  /** `learned`: told of each new mapping (the endpoint keeps them in Redis, to survive its own restart). */
  constructor(private readonly learned: (clientSha: string, serverSha: string) => void = () => undefined) {}

  /** Returns the script to send to Redis, remembering client sha → server sha. */
  adapt(script: string): string {
    const adapted = adaptScript(script);
    if (adapted !== script) this.remember(sha1(script), sha1(adapted), true);
    return adapted;
  }

  remember(clientSha: string, serverSha: string, isNew = false): void {
    if (isNew && this.toServer.get(clientSha) !== serverSha) this.learned(clientSha, serverSha);
    this.toServer.set(clientSha, serverSha);
  }

  serverSha(clientSha: string): string {
    return this.toServer.get(clientSha.toLowerCase()) ?? clientSha;
  }
}

/**
 * Rewrites script commands for Redis; returns the command to run and how to present SCRIPT LOAD's answer. The name
 * comes back upper-case: ioredis reshapes replies of some lower-case command names (HGETALL into an object), and
 * the REST protocol wants Redis's raw reply.
 */
export function translateScriptCommand(command: string[], shas: ScriptShaMap): { command: string[]; loadedSha?: string } {
  const name = command[0]!.toUpperCase();
  command = [name, ...command.slice(1)];
  if ((name === "EVAL" || name === "EVAL_RO") && command[1] !== undefined) return { command: [command[0]!, shas.adapt(command[1]), ...command.slice(2)] };
  if ((name === "EVALSHA" || name === "EVALSHA_RO") && command[1] !== undefined) return { command: [command[0]!, shas.serverSha(command[1]), ...command.slice(2)] };
  if (name === "SCRIPT" && command[1]?.toUpperCase() === "LOAD" && command[2] !== undefined) {
    return { command: [command[0]!, command[1], shas.adapt(command[2])], loadedSha: sha1(command[2]) };
  }
  if (name === "SCRIPT" && command[1]?.toUpperCase() === "EXISTS") return { command: [...command.slice(0, 2), ...command.slice(2).map((s) => shas.serverSha(s))] };
  return { command };
}
