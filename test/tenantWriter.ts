import { performance } from "node:perf_hooks";
import { Pool } from "pg";
import { createTenantRouter, isTenantMaintenanceError, runWithTenant } from "@bloom/tenant-runtime";
import { withClient } from "../infra/database/sql/withClient";

/**
 * An app-like writer for one tenant, as the app runtime contract says the app behaves (docs/app-runtime.md): it
 * resolves the tenant's database through `bloom_tenant_location`, writes in `runWithTenant`, and on the
 * maintenance error (BL503) invalidates the location and retries the same write. It inserts, updates and deletes
 * its own users (`w-<tenant>-<n>`; no table references "user", so a delete costs no foreign-key scan) and keeps a
 * model of every acknowledged write: after a move, the tenant's rows at its new home must equal the model, row by
 * row (`writerRows`).
 */
export interface WriterStats {
  acknowledged: number;
  refused: number;
  /** Writes per second over the run, acknowledged ones only. */
  rate: number;
  /** Latency of acknowledged writes, ms (for the benchmark's p95). */
  latencies: number[];
}

export class TenantWriter {
  readonly model = new Map<string, string>();
  private stats = { acknowledged: 0, refused: 0, latencies: [] as number[] };
  private stopped = false;
  private running?: Promise<void>;
  private readonly pools = new Map<string, Pool>();
  private readonly router;
  private next = 0;
  private startedAt = 0;

  /** `dedicatedAppUrl`: the dedicated database's app URL, or how to look it up once the tenant lives there. */
  constructor(private readonly tenantId: string, opts: { poolAppUrl: string; dedicatedAppUrl: string | (() => Promise<string>); writesPerSecond: number; seed?: number }) {
    this.rate = opts.writesPerSecond;
    this.random = mulberry32(opts.seed ?? 1);
    this.router = createTenantRouter({ pool: this.poolFor(opts.poolAppUrl), poolUrl: opts.poolAppUrl, credentialsFor: () => (typeof opts.dedicatedAppUrl === "string" ? opts.dedicatedAppUrl : opts.dedicatedAppUrl()), cacheTtlMs: 5_000 });
  }
  private readonly rate: number;
  private readonly random: () => number;

  start(): this {
    this.startedAt = Date.now();
    this.running = this.loop();
    return this;
  }

  async stop(): Promise<WriterStats> {
    this.stopped = true;
    await this.running;
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    const seconds = (Date.now() - this.startedAt) / 1000;
    return { acknowledged: this.stats.acknowledged, refused: this.stats.refused, rate: this.stats.acknowledged / seconds, latencies: this.stats.latencies };
  }

  private poolFor(url: string): Pool {
    let p = this.pools.get(url);
    if (!p) this.pools.set(url, (p = new Pool({ connectionString: url, max: 2, application_name: `bloom-writer-${this.tenantId}` })));
    return p;
  }

  /** Latencies of the writes acknowledged since the last call (per phase of a benchmark). */
  takeLatencies(): number[] {
    const taken = this.stats.latencies.slice(this.taken);
    this.taken = this.stats.latencies.length;
    return taken;
  }
  private taken = 0;

  private async loop(): Promise<void> {
    const interval = 1000 / this.rate;
    let due = Date.now();
    while (!this.stopped) {
      await this.writeOnce();
      due += interval;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else due = Date.now(); // behind (a freeze): no burst to catch up
    }
  }

  /** One write, retried on BL503 until acknowledged (the app's contract); any other error fails the run. */
  private async writeOnce(): Promise<void> {
    const alive = [...this.model.keys()];
    const roll = this.random();
    const op = alive.length < 5 || roll < 0.5 ? { kind: "insert" as const, id: `w-${this.tenantId}-${this.next++}` }
      : roll < 0.8 ? { kind: "update" as const, id: alive[Math.floor(this.random() * alive.length)]! }
      : { kind: "delete" as const, id: alive[Math.floor(this.random() * alive.length)]! };
    const name = `n${Math.floor(this.random() * 1e9)}`;
    for (;;) {
      const started = performance.now();
      try {
        const conn = await this.router.resolveTenantConnection(this.tenantId);
        await runWithTenant(this.poolFor(conn.url), this.tenantId, async (c) => {
          if (op.kind === "insert") await c.query(`INSERT INTO "user" (id, email, name, password_hash, clinic_id) VALUES ($1, $1 || '@writer', $2, 'x', $3)`, [op.id, name, this.tenantId]);
          else if (op.kind === "update") await c.query(`UPDATE "user" SET name = $2 WHERE id = $1`, [op.id, name]);
          else await c.query(`DELETE FROM "user" WHERE id = $1`, [op.id]);
        });
        this.stats.latencies.push(performance.now() - started);
        this.stats.acknowledged++;
        if (op.kind === "delete") this.model.delete(op.id);
        else this.model.set(op.id, name);
        return;
      } catch (err) {
        if (!isTenantMaintenanceError(err)) throw err;
        this.stats.refused++;
        this.router.invalidate(this.tenantId);
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The writer's rows of a tenant in a database, as id → name (compare with `TenantWriter.model`). */
export async function writerRows(url: string, tenantId: string): Promise<Map<string, string>> {
  const rows = await withClient(url, async (c) => (await c.query<{ id: string; name: string }>(
    `SELECT id, name FROM "user" WHERE clinic_id = $1 AND id LIKE 'w-%' ORDER BY id`, [tenantId])).rows, "bloom-tests");
  return new Map(rows.map((r) => [r.id, r.name]));
}
