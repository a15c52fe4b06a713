import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { statementCounter } from "../../../../lib/db";

export const dynamic = "force-dynamic";

const LOOP = Symbol.for("bloom-app/event-loop-delay");
const holder = globalThis as { [LOOP]?: IntervalHistogram };

/**
 * GET /api/debug/stats[?reset=1] — what bench:tenant-load reads from the app: statements its pools sent so far, and
 * the event loop's delay since the last reset (ms). 404 unless BLOOM_APP_STATEMENT_COUNTS=1.
 */
export function GET(req: Request): Response {
  if (process.env.BLOOM_APP_STATEMENT_COUNTS !== "1") return Response.json({ title: "debug stats are off", status: 404 }, { status: 404 });
  const loop = (holder[LOOP] ??= (() => {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    return h;
  })());
  const stats = { statements: statementCounter().statements, eventLoopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } };
  if (new URL(req.url).searchParams.get("reset") === "1") loop.reset();
  return Response.json(stats);
}
