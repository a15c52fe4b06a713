/**
 * Neon answers 423 (resource locked by a running operation), 429 (rate limited) and 503 (unavailable); all three
 * are documented as safe to retry. We back off exponentially with full jitter, wait at least what Retry-After
 * says, and give up after a bounded total wait with an error naming what we were doing.
 */
export const RETRYABLE_STATUS = new Set([423, 429, 503]);

export interface RetryPolicy {
  /** Upper bound on the total time spent waiting between attempts. */
  maxTotalWaitMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const defaultRetryPolicy = (): RetryPolicy => ({
  maxTotalWaitMs: 5 * 60_000,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  random: Math.random,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
});

export interface HttpFailure {
  status?: number;
  headers?: Record<string, unknown>;
}

/** Extracts the HTTP status and headers from an axios error (the Neon client is axios-based). */
export function httpFailure(err: unknown): HttpFailure {
  const response = (err as { response?: { status?: number; headers?: Record<string, unknown> } }).response;
  return { status: response?.status, headers: response?.headers };
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(headers: Record<string, unknown> | undefined, now = Date.now()): number | undefined {
  const raw = headers?.["retry-after"] ?? headers?.["Retry-After"];
  if (raw === undefined || raw === null) return undefined;
  const text = String(raw).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function backoffDelayMs(attempt: number, policy: RetryPolicy, retryAfter?: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = Math.round(policy.random() * exp);
  return Math.max(jittered, retryAfter ?? 0);
}

export class RetryBudgetExceeded extends Error {
  constructor(what: string, readonly lastStatus: number | undefined, readonly waitedMs: number) {
    super(`${what}: still failing with HTTP ${lastStatus ?? "?"} after retrying for ${Math.round(waitedMs / 1000)} s; Neon may be degraded (status.neon.tech) — rerun later, the step is idempotent`);
    this.name = "RetryBudgetExceeded";
  }
}

export async function withRetry<T>(what: string, call: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  let waited = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const { status, headers } = httpFailure(err);
      if (status === undefined || !RETRYABLE_STATUS.has(status)) throw err;
      const delay = backoffDelayMs(attempt, policy, retryAfterMs(headers));
      if (waited + delay > policy.maxTotalWaitMs) throw new RetryBudgetExceeded(what, status, waited);
      await policy.sleep(delay);
      waited += delay;
    }
  }
}
