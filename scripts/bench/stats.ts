/** Small statistics for the benchmarks (arrays can hold hundreds of thousands of samples: no spreading). */
export const max = (xs: number[]): number => xs.reduce((m, x) => (x > m ? x : m), 0);

export function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export const median = (xs: number[]): number => percentile(xs, 50);
