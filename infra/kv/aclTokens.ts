import { randomBytes } from "node:crypto";

/**
 * Upstash's ACL extensions, reproduced by the local endpoint: `ACL GENTOKEN <user> [password]` returns a token that
 * is both the user's password (given to `ACL SETUSER … >token`) and its REST bearer token; `ACL RESTTOKEN <user>
 * <password>` returns it again. Locally a token carries the user and password Redis checks (prefix + base64url),
 * so the endpoint can open a connection authenticated as that ACL user and let Redis enforce the rules.
 */
const PREFIX = "bloomacl_";

export function makeAclToken(user: string, password = randomBytes(24).toString("base64url")): string {
  return PREFIX + Buffer.from(`${user}\0${password}`).toString("base64url");
}

export function parseAclToken(token: string): { user: string; password: string } | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const [user, password] = Buffer.from(token.slice(PREFIX.length), "base64url").toString("utf8").split("\0");
  return user && password ? { user, password } : undefined;
}

/**
 * The endpoint's answer to the Upstash-only ACL forms, or the command to pass to Redis (SETUSER's `>token`
 * becomes `>password`; a plain `>password` is refused, as Upstash refuses it).
 */
export function translateAclCommand(command: string[]): { reply: string } | { error: string } | { command: string[] } {
  if (command[0]?.toUpperCase() !== "ACL") return { command };
  const sub = command[1]?.toUpperCase();
  if (sub === "GENTOKEN" && command[2]) return { reply: makeAclToken(command[2], command[3]) };
  if (sub === "RESTTOKEN" && command[2] && command[3]) {
    const parsed = parseAclToken(command[3]);
    return { reply: makeAclToken(command[2], parsed ? parsed.password : command[3]) };
  }
  if (sub === "SETUSER") {
    const rules: string[] = [];
    for (const rule of command.slice(3)) {
      if (rule.toLowerCase() === "nopass") return { error: "ERR nopass is not allowed: every user needs a token from ACL GENTOKEN" };
      if (rule.startsWith(">") || rule.startsWith("<")) {
        const parsed = parseAclToken(rule.slice(1));
        if (!parsed) return { error: "ERR passwords must be generated with ACL GENTOKEN" };
        rules.push(rule[0] + parsed.password);
      } else rules.push(rule);
    }
    return { command: [...command.slice(0, 3), ...rules] };
  }
  return { command };
}
