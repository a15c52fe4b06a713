import { adminCommand } from "./adminCommand";
import { loadLimiterScripts } from "./limiterScripts";

export { adminCommand };

/**
 * The app's scoped credentials for the store (the platform keeps the admin token). Two ACL users per stack, made
 * with Upstash's ACL extensions (ACL GENTOKEN → SETUSER … >token; the local endpoint implements the same), because
 * Upstash's ACL has no read-only key patterns or selectors:
 *  - reader: the flags, kill switches and budgets, read-only (HGET/HMGET/HGETALL/EXISTS/GET/SMEMBERS only);
 *  - limiter: only the rate-limit keys (`<prefix>rl:*`), with the commands @upstash/ratelimit's scripts run. Redis
 *    checks every key a script touches against the user's patterns, so a script cannot reach a flag either.
 * Re-applying keeps each user's token (running app instances keep working); `rotate` issues new ones.
 */
export interface AppKvAccess {
  readerUser: string;
  readToken: string;
  limiterUser: string;
  limiterToken: string;
}

const READER_COMMANDS = ["+hget", "+hmget", "+hgetall", "+exists", "+get", "+smembers", "+ping"];
// The scripts' own commands too (Redis checks each redis.call against the user): what @upstash/ratelimit's
// algorithms call, on the user's keys only.
// ZINCRBY: the analytics (`analytics: true`) the runtime records, which `bloom status` reads for rejections.
// EVALSHA but no EVAL (issue 22): only the library's scripts, which the platform loads (limiterScripts.ts). Redis
// still checks each redis.call of those against the user's key patterns, but within `<prefix>rl:*` a script may
// touch any tenant's counters: the limiter user is shared by the stack's tenants (threat model).
const LIMITER_COMMANDS = ["+evalsha", "+get", "+incrby", "+pexpire", "+hgetall", "+hmget", "+hset", "+ttl", "+zincrby", "+ping"];

export function appAclRules(prefix: string): { reader: string[]; limiter: string[] } {
  return {
    reader: [`~${prefix}flag:*`, `~${prefix}flags`, `~${prefix}budgets`, ...READER_COMMANDS],
    limiter: [`~${prefix}rl:*`, ...LIMITER_COMMANDS],
  };
}

/** ACL user names are `<base>-reader` / `<base>-limiter`; `base` names the stack (stacks may share a local Redis). */
export async function ensureAppKvAccess(restUrl: string, adminToken: string, prefix: string, base: string, keep?: Partial<AppKvAccess>, rotate = false): Promise<AppKvAccess> {
  const rules = appAclRules(prefix);
  const apply = async (user: string, userRules: string[], current?: string): Promise<string> => {
    const token = !rotate && current ? current : String(await adminCommand(restUrl, adminToken, ["ACL", "GENTOKEN", user]));
    // reset first: the rules are exactly these, whatever the user had.
    await adminCommand(restUrl, adminToken, ["ACL", "SETUSER", user, "reset", "on", `>${token}`, ...userRules]);
    return token;
  };
  const readerUser = `${base}-reader`;
  const limiterUser = `${base}-limiter`;
  const access = {
    readerUser,
    readToken: await apply(readerUser, rules.reader, keep?.readToken),
    limiterUser,
    limiterToken: await apply(limiterUser, rules.limiter, keep?.limiterToken),
  };
  await loadLimiterScripts(restUrl, adminToken);
  return access;
}

export async function deleteAppKvAccess(restUrl: string, adminToken: string, users: string[]): Promise<void> {
  await adminCommand(restUrl, adminToken, ["ACL", "DELUSER", ...users]);
}
