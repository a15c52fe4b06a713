/** Runs `work` over `items` with at most `limit` in flight; results keep the input order. Never rejects early. */
export async function mapSettledWithLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: "fulfilled", value: await work(items[index]!, index) };
      } catch (reason) {
        results[index] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** mapSettledWithLimit, then the values — or the first failure, once every item has settled (none left running). */
export async function mapAllWithLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const settled = await mapSettledWithLimit(items, limit, work);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

/**
 * At most `limit` runs of `work` at once across every caller (a worker's engine runs, say); the others wait their
 * turn in order. `waiting` is called when a run has to wait, with how many are ahead of it.
 */
export function runLimit(limit: number): <R>(work: () => Promise<R>, waiting?: (ahead: number) => void) => Promise<R> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`a run limit must be a whole number of at least 1, not ${limit}`);
  let active = 0;
  const queue: (() => void)[] = [];
  return async (work, waiting) => {
    if (active >= limit) {
      waiting?.(queue.length + 1);
      await new Promise<void>((resolve) => queue.push(resolve));
    } else active++;
    try {
      return await work();
    } finally {
      const next = queue.shift();
      if (next) next(); // the slot passes to the next in line
      else active--;
    }
  };
}
