import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis";
import { adminCommand } from "./adminCommand";
import { sha1 } from "./scriptCompat";

/**
 * The limiter's Lua, and nothing else (issue 22, attack 7): the limiter user may EVALSHA but not EVAL, so it runs
 * only scripts the platform loaded — the ones @upstash/ratelimit's sliding window and token bucket (what the tenant
 * runtime uses: per identifier, and for the tenant as a whole) send. They are read from the installed library by running it once against a recorder (its scripts are not
 * exported), so a library upgrade loads the new scripts at the next `up`. Script caches do not survive a
 * restart (Upstash: "The cache is lost on restart"), so the app-access resource reports missing scripts as drift
 * and the next `up` loads them again; until then the limiter's calls fail with NOSCRIPT/NOPERM (the runtime names it).
 */
export async function ratelimitScripts(): Promise<string[]> {
  const seen = new Map<string, string>();
  const recorder = {
    evalsha: async () => {
      throw new Error("NOSCRIPT No matching script. Please use EVAL.");
    },
    eval: async (script: string) => {
      seen.set(sha1(script), script);
      return [0, 0];
    },
  } as unknown as Redis;
  for (const algorithm of [Ratelimit.slidingWindow(10, "10 s"), Ratelimit.tokenBucket(1, "1 s", 10)]) {
    const limiter = new Ratelimit({ redis: recorder, limiter: algorithm, analytics: false, ephemeralCache: false });
    await limiter.limit("probe").catch(() => undefined);
    await limiter.getRemaining("probe").catch(() => undefined);
  }
  if (!seen.size) throw new Error("could not read @upstash/ratelimit's scripts: the library no longer falls back to EVAL on NOSCRIPT");
  return [...seen.values()];
}

/** SCRIPT LOAD of each limiter script with the admin token; returns their SHA1s (what the library EVALSHAs). */
export async function loadLimiterScripts(restUrl: string, adminToken: string): Promise<string[]> {
  const shas: string[] = [];
  for (const script of await ratelimitScripts()) shas.push(String(await adminCommand(restUrl, adminToken, ["SCRIPT", "LOAD", script])));
  return shas;
}

/** The limiter scripts the store does not hold (after a restart or SCRIPT FLUSH). */
export async function missingLimiterScripts(restUrl: string, adminToken: string): Promise<string[]> {
  const shas = (await ratelimitScripts()).map(sha1);
  const present = (await adminCommand(restUrl, adminToken, ["SCRIPT", "EXISTS", ...shas])) as number[];
  return shas.filter((_, i) => !present[i]);
}
