import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { branchExpiryProblem, maskingRuleProblem, NEON_EXPIRY_RESTRICTIONS, type NeonMaskingRule } from "../../../infra/vendorRules/neon";
import { NeonOpenApi, type MatchedOperation } from "./openapiValidator";

/**
 * A local stand-in for the Neon API, shaped after its documented behaviour:
 *  - every request is checked against Neon's OpenAPI document (bad requests get 400, like the real API);
 *  - mutations return operations that finish asynchronously; while one runs, further mutations of that project
 *    get 423 Locked;
 *  - faults can be injected: 429/503 with Retry-After, and operations that end `failed`;
 *  - branch names are unique per project (a second create with the same name conflicts);
 *  - branch expiry as Neon documents it (infra/vendorRules/neon.ts): an expiry is RFC 3339, in the future and at most
 *    30 days ahead; no child of an expiring branch, no expiry on the default branch or on a parent; a branch is
 *    deleted with its computes once its expiry has passed — on the fake's clock, which tests move with advanceTime.
 * The fake also validates its own responses against the spec and records any mismatch in `problems`.
 */
type Json = any;

interface FakeOperation { op: Json; finishAt: number; failWith?: string }
interface FakeProject {
  project: Json;
  branches: Map<string, Json>;
  roles: Map<string, Map<string, Json>>;
  databases: Map<string, Map<string, Json>>;
  endpoints: Map<string, Json>;
  operations: FakeOperation[];
  anonymizations: Map<string, FakeAnonymization>;
}
interface FakeAnonymization { rules: Json[]; state: string; created_at: string; updated_at: string; failed_at?: string; finishAt: number; failWith?: string }
interface Fault { status: 423 | 429 | 503; remaining: number; retryAfter?: string; when: (method: string, path: string) => boolean }

export interface RecordedRequest { method: string; path: string; status: number; body?: unknown }

let clockOffsetMs = 0;
const clock = () => Date.now() + clockOffsetMs;
const now = () => new Date(clock()).toISOString().replace(/\.\d{3}Z$/, "Z");
const uniform = ([min, max]: [number, number]) => min + Math.random() * (max - min);
/** A role as Neon lists it: never with its password. */
const stripRole = (r: Json) => { const { password: _pw, ...rest } = r; return rest; };
const shortId = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`;

export class NeonFake {
  readonly requests: RecordedRequest[] = [];
  /** Requests the real API would reject, and responses the fake got wrong: both must stay empty in a green suite. */
  readonly problems: string[] = [];
  /** Ids of operations the backend polled until they reported an end state (finished or failed). */
  readonly operationsSeenEnded = new Set<string>();
  /** Every operation the fake has handed out, across projects. */
  allOperationIds(): string[] {
    return [...this.projects.values()].flatMap((p) => p.operations.map((o) => o.op.id as string));
  }
  /** A test that sends a wrong key on purpose sets this, so its 401s are not problems. */
  expectAuthFailures = false;
  private readonly spec = new NeonOpenApi();
  private readonly projects = new Map<string, FakeProject>();
  private readonly faults: Fault[] = [];
  private readonly failingActions = new Map<string, string>();
  private server?: Server;
  url = "";

  /**
   * Realistic timing for benchmarks: each request answered after a uniform [min, max] ms, each operation running a
   * uniform [min, max] ms (Neon: tens of ms per API call; branch and project operations finish in about a second).
   */
  latency?: { requestMs: [number, number]; operationMs: [number, number] };

  /** How long each operation runs; tests may lengthen it to hold the project lock. */
  constructor(readonly apiKey = "fake-neon-key", public operationMs = 40) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v2`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** The next `times` matching requests answer `status` (with Retry-After when given). */
  injectFault(status: Fault["status"], times: number, opts: { retryAfter?: string; when?: (method: string, path: string) => boolean } = {}): void {
    this.faults.push({ status, remaining: times, retryAfter: opts.retryAfter, when: opts.when ?? (() => true) });
  }

  /** The next operation with this action ends `failed` with the message. */
  failNextOperation(action: string, error: string): void {
    this.failingActions.set(action, error);
  }

  /** Moves the fake's clock (expiry) forward; operations keep real time. */
  advanceTime(ms: number): void {
    clockOffsetMs += ms;
  }

  resetClock(): void {
    clockOffsetMs = 0;
  }

  /** What Neon's background job does: branches past their expiry are gone, with their computes. */
  private reapExpired(): void {
    const t = clock();
    for (const p of this.projects.values()) {
      for (const [id, b] of p.branches) {
        if (b.expires_at && Date.parse(b.expires_at) <= t) {
          p.branches.delete(id);
          for (const [eid, e] of p.endpoints) if (e.branch_id === id) p.endpoints.delete(eid);
        }
      }
    }
  }

  private refuseExpiry(p: FakeProject, branch: Json | undefined, expiresAt: string): void {
    const problem = branchExpiryProblem(expiresAt, clock());
    if (problem) throw Object.assign(new Error(problem), { status: 400 });
    if (branch?.default) throw Object.assign(new Error(NEON_EXPIRY_RESTRICTIONS.expireDefault), { status: 400 });
    if (branch && [...p.branches.values()].some((b) => b.parent_id === branch.id)) throw Object.assign(new Error(NEON_EXPIRY_RESTRICTIONS.expireParent), { status: 400 });
  }

  count(method: string, pathPattern: RegExp): number {
    return this.requests.filter((r) => r.method === method && pathPattern.test(r.path)).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.latency) await new Promise((r) => setTimeout(r, uniform(this.latency!.requestMs)));
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname.replace(/^\/api\/v2/, "");
    const method = req.method ?? "GET";
    const raw = await new Promise<string>((r) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => r(data));
    });
    // Every request the backend sends is checked, whatever the answer: a wrong path, a missing key, a body that
    // is not JSON all count as problems (the backend would read a 404 as "absent" and pass silently otherwise).
    const problem = (what: string) => this.problems.push(`${method} ${path}: ${what}`);
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      problem("request body is not valid JSON");
      return this.reply(res, method, path, undefined, 400, { code: "", message: "request body is not valid JSON" });
    }
    if (raw && !String(req.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) problem(`content-type is "${req.headers["content-type"] ?? ""}", not application/json`);
    const op = this.spec.match(method, path);
    if (!op) {
      problem("no such route in Neon's API");
      return this.reply(res, method, path, undefined, 404, { code: "", message: `no route ${method} ${path}` });
    }
    const invalid = this.spec.validateRequest(op, url.searchParams, body);
    if (invalid.length) {
      problem(invalid.join("; "));
      return this.reply(res, method, path, op, 400, { code: "", message: invalid.join("; ") }, undefined, body);
    }
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      if (!this.expectAuthFailures) problem("no valid API key (Authorization: Bearer …)");
      return this.reply(res, method, path, op, 401, { code: "", message: "authentication required" });
    }
    // Faults come after validation: an injected 429/503 still checks what the backend sent.
    const fault = this.faults.find((f) => f.remaining > 0 && f.when(method, path));
    if (fault) {
      fault.remaining--;
      const headers = fault.retryAfter ? { "retry-after": fault.retryAfter } : undefined;
      return this.reply(res, method, path, op, fault.status, { code: "", message: `injected ${fault.status}` }, headers, body);
    }
    try {
      this.reapExpired();
      const [status, payload] = this.route(op, url.searchParams, body as Json);
      this.reply(res, method, path, op, status, payload, undefined, body);
    } catch (err) {
      const e = err as { status?: number; message: string };
      this.reply(res, method, path, op, e.status ?? 500, { code: "", message: e.message }, undefined, body);
    }
  }

  private reply(res: ServerResponse, method: string, path: string, op: MatchedOperation | undefined, status: number, payload: Json, headers?: Record<string, string>, body?: unknown) {
    this.requests.push({ method, path, status, body });
    if (op) for (const p of this.spec.validateResponse(op, status, payload)) this.problems.push(`fake answered ${method} ${op.template} wrongly: ${p}`);
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(payload));
  }

  // ---- state --------------------------------------------------------------------------------------------------

  private project(id: string): FakeProject {
    const p = this.projects.get(id);
    if (!p) throw Object.assign(new Error(`project ${id} not found`), { status: 404 });
    return p;
  }

  private branch(p: FakeProject, id: string): Json {
    const b = p.branches.get(id);
    if (!b) throw Object.assign(new Error(`branch ${id} not found`), { status: 404 });
    return b;
  }

  private settle(p: FakeProject): void {
    const t = Date.now();
    for (const o of p.operations) {
      if (o.op.status === "running" && t >= o.finishAt) {
        o.op.status = o.failWith ? "failed" : "finished";
        if (o.failWith) o.op.error = o.failWith;
        o.op.updated_at = now();
        o.op.total_duration_ms = this.operationMs;
      }
    }
  }

  /** Neon locks a project while an operation runs on it. */
  private assertUnlocked(p: FakeProject): void {
    this.settle(p);
    if (p.operations.some((o) => o.op.status === "running")) {
      throw Object.assign(new Error("project already has running conflicting operations, scheduling of new ones is prohibited"), { status: 423 });
    }
  }

  private operation(p: FakeProject, action: string, branchId?: string, endpointId?: string): Json {
    const failWith = this.failingActions.get(action);
    if (failWith) this.failingActions.delete(action);
    const op: Json = { id: randomUUID(), project_id: p.project.id, action, status: "running", failures_count: 0, created_at: now(), updated_at: now(), total_duration_ms: 0 };
    if (branchId) op.branch_id = branchId;
    if (endpointId) op.endpoint_id = endpointId;
    p.operations.push({ op, finishAt: Date.now() + (this.latency ? uniform(this.latency.operationMs) : this.operationMs), failWith });
    return op;
  }

  private newBranch(p: FakeProject, name: string, parent?: Json, extra: Json = {}): Json {
    const b: Json = {
      id: shortId("br"), project_id: p.project.id, name, current_state: "ready", state_changed_at: now(), creation_source: "console",
      created_at: now(), updated_at: now(), default: !parent, protected: false, cpu_used_sec: 0, active_time_seconds: 0,
      compute_time_seconds: 0, written_data_bytes: 0, data_transfer_bytes: 0, init_source: "parent-data", ...extra,
    };
    if (parent) {
      b.parent_id = parent.id;
      b.parent_lsn = "0/1DE2850";
    }
    p.branches.set(b.id, b);
    p.roles.set(b.id, new Map(parent ? [...(p.roles.get(parent.id) ?? new Map())].map(([k, v]) => [k, { ...v, branch_id: b.id }]) : []));
    p.databases.set(b.id, new Map(parent ? [...(p.databases.get(parent.id) ?? new Map())].map(([k, v]) => [k, { ...v, branch_id: b.id }]) : []));
    return b;
  }

  private createBranch(p: FakeProject, body: Json): Json {
    this.assertUnlocked(p);
    const spec = body?.branch ?? {};
    const name = spec.name ?? shortId("br-auto");
    if ([...p.branches.values()].some((b) => b.name === name)) throw Object.assign(new Error(`branch with name "${name}" already exists`), { status: 409 });
    const parent = spec.parent_id ? this.branch(p, spec.parent_id) : [...p.branches.values()].find((b) => b.default);
    if (parent?.expires_at) throw Object.assign(new Error(NEON_EXPIRY_RESTRICTIONS.childOfExpiring), { status: 400 });
    const extra: Json = {};
    if (spec.parent_timestamp) extra.parent_timestamp = spec.parent_timestamp;
    if (spec.expires_at) {
      this.refuseExpiry(p, undefined, spec.expires_at);
      extra.expires_at = spec.expires_at;
      extra.ttl_interval_seconds = Math.round((Date.parse(spec.expires_at) - clock()) / 1000);
    }
    const b = this.newBranch(p, name, parent, extra);
    const endpoints = (body?.endpoints ?? []).map(() => this.newEndpoint(p, b.id));
    const operations = [this.operation(p, "create_branch", b.id), ...endpoints.map((e: Json) => this.operation(p, "start_compute", b.id, e.id))];
    return { branch: b, endpoints, operations, roles: [...p.roles.get(b.id)!.values()].map(stripRole), databases: [...p.databases.get(b.id)!.values()] };
  }

  // ---- anonymized branches: static masking that runs for a while, then ends anonymized or in error -------------

  /** The next anonymization to start ends in `error` with this message (what a rule Neon cannot apply does). */
  failNextAnonymization(message: string): void {
    this.anonymizationFailure = message;
  }

  private anonymizationFailure?: string;

  private anonymization(p: FakeProject, branchId: string, rules: Json[], start: boolean): void {
    const a: FakeAnonymization = { rules, state: "initialized", created_at: now(), updated_at: now(), finishAt: 0 };
    p.anonymizations.set(branchId, a);
    if (start) this.startAnonymizing(a);
  }

  private startAnonymizing(a: FakeAnonymization): void {
    a.state = "anonymizing";
    a.updated_at = now();
    a.finishAt = Date.now() + 3 * this.operationMs; // masking the data outlasts making the branch
    // The anonymizer runs each rule's function: one it does not know fails the run.
    const unknown = a.rules.map((r: NeonMaskingRule) => maskingRuleProblem(r)).find(Boolean);
    a.failWith = this.anonymizationFailure ?? unknown;
    this.anonymizationFailure = undefined;
  }

  private anonymized(p: FakeProject, branchId: string): FakeAnonymization {
    this.branch(p, branchId);
    const a = p.anonymizations.get(branchId);
    if (!a) throw Object.assign(new Error(`branch ${branchId} is not an anonymized branch`), { status: 400 });
    return a;
  }

  private anonymizedStatus(p: FakeProject, branchId: string): Json {
    const a = this.anonymized(p, branchId);
    if (a.state === "anonymizing" && Date.now() >= a.finishAt) {
      a.state = a.failWith ? "error" : "anonymized";
      a.updated_at = now();
      if (a.failWith) a.failed_at = now();
    }
    const status: Json = { project_id: p.project.id, branch_id: branchId, state: a.state, created_at: a.created_at, updated_at: a.updated_at };
    if (a.state === "anonymizing") status.status_message = `Anonymizing ${a.rules.length} column(s)`;
    if (a.state === "error") status.status_message = a.failWith;
    if (a.failed_at) status.failed_at = a.failed_at;
    return status;
  }

  private newEndpoint(p: FakeProject, branchId: string): Json {
    const id = shortId("ep");
    const e: Json = {
      host: `${id}.eu-central-1.aws.fake-neon.invalid`, id, project_id: p.project.id, branch_id: branchId, region_id: p.project.region_id,
      autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 1, type: "read_write", current_state: "idle", pooler_enabled: false,
      pooler_mode: "transaction", disabled: false, passwordless_access: false, creation_source: "console", created_at: now(),
      updated_at: now(), settings: {}, proxy_host: "eu-central-1.aws.fake-neon.invalid", suspend_timeout_seconds: 0, provisioner: "k8s-neonvm",
    };
    p.endpoints.set(id, e);
    return e;
  }

  private role(p: FakeProject, branchId: string, name: string): Json {
    const password = randomBytes(12).toString("base64url");
    const r: Json = { branch_id: branchId, name, password, protected: false, created_at: now(), updated_at: now() };
    p.roles.get(branchId)!.set(name, r);
    return r;
  }

  private database(p: FakeProject, branchId: string, name: string, owner: string): Json {
    if (!p.roles.get(branchId)!.has(owner)) throw Object.assign(new Error(`role ${owner} does not exist`), { status: 400 });
    const d: Json = { id: Math.floor(Math.random() * 1e6), branch_id: branchId, name, owner_name: owner, created_at: now(), updated_at: now() };
    p.databases.get(branchId)!.set(name, d);
    return d;
  }

  private route(op: MatchedOperation, q: URLSearchParams, body: Json): [number, Json] {
    const { project_id: pid, branch_id: bid, role_name: roleName, database_name: dbName, operation_id: opId } = op.pathParams;
    const key = `${op.method} ${op.template}`;
    switch (key) {
      case "get /projects": {
        const search = q.get("search") ?? "";
        const list = [...this.projects.values()].map((p) => p.project).filter((p) => p.name.includes(search) || p.id.includes(search));
        const items = list.map((p) => ({ ...p, active_time: 0 }));
        const page: Json = { projects: items, applications: {}, integrations: {} };
        if (items.length) page.pagination = { cursor: items.at(-1)!.id };
        return [200, page];
      }
      case "post /projects": {
        const spec = body.project ?? {};
        const id = `${shortId("fake")}-${randomBytes(2).toString("hex")}`;
        const project: Json = {
          id, platform_id: "aws", region_id: spec.region_id ?? "aws-us-east-2", name: spec.name ?? id, pg_version: spec.pg_version ?? 17,
          proxy_host: "fake-neon.invalid", branch_logical_size_limit: 0, branch_logical_size_limit_bytes: 0, store_passwords: true,
          cpu_used_sec: 0, provisioner: "k8s-neonvm", creation_source: "console", history_retention_seconds: spec.history_retention_seconds ?? 86400,
          created_at: now(), updated_at: now(), owner_id: "fake-owner", consumption_period_start: now(), consumption_period_end: now(),
          active_time_seconds: 0, compute_time_seconds: 0, written_data_bytes: 0, data_transfer_bytes: 0, data_storage_bytes_hour: 0,
        };
        if (spec.org_id) project.org_id = spec.org_id;
        const p: FakeProject = { project, branches: new Map(), roles: new Map(), databases: new Map(), endpoints: new Map(), operations: [], anonymizations: new Map() };
        this.projects.set(id, p);
        const main = this.newBranch(p, spec.branch?.name ?? "main");
        const endpoint = this.newEndpoint(p, main.id);
        const owner = this.role(p, main.id, spec.branch?.role_name ?? "neondb_owner");
        const db = this.database(p, main.id, spec.branch?.database_name ?? "neondb", owner.name);
        const operations = [this.operation(p, "create_timeline", main.id), this.operation(p, "start_compute", main.id, endpoint.id)];
        const connection_uris = [{ connection_uri: `postgresql://${owner.name}:${owner.password}@${endpoint.host}/${db.name}?sslmode=require`, connection_parameters: { database: db.name, password: owner.password, role: owner.name, host: endpoint.host, pooler_host: endpoint.host.replace(/^([^.]+)/, "$1-pooler") } }];
        return [201, { project, branch: main, endpoints: [endpoint], roles: [owner], databases: [db], operations, connection_uris }];
      }
      case "patch /projects/{project_id}": {
        const p = this.project(pid!);
        this.assertUnlocked(p);
        if (body.project.history_retention_seconds !== undefined) p.project.history_retention_seconds = body.project.history_retention_seconds;
        const logical = body.project.settings?.enable_logical_replication;
        if (logical === false && p.project.settings?.enable_logical_replication) return [400, { code: "", message: "logical replication cannot be disabled once enabled" }];
        const operations = [this.operation(p, "apply_config")];
        if (logical && !p.project.settings?.enable_logical_replication) {
          p.project.settings = { ...(p.project.settings ?? {}), enable_logical_replication: true };
          // Neon suspends every endpoint to apply wal_level = logical.
          for (const e of p.endpoints.values()) operations.push(this.operation(p, "suspend_compute", e.branch_id, e.id));
        }
        p.project.updated_at = now();
        return [200, { project: p.project, operations }];
      }
      case "delete /projects/{project_id}": {
        const p = this.project(pid!);
        this.projects.delete(pid!);
        return [200, { project: p.project }];
      }
      case "get /projects/{project_id}/operations/{operation_id}": {
        const p = this.project(pid!);
        this.settle(p);
        const found = p.operations.find((o) => o.op.id === opId);
        if (!found) throw Object.assign(new Error(`operation ${opId} not found`), { status: 404 });
        if (found.op.status !== "running") this.operationsSeenEnded.add(found.op.id);
        return [200, { operation: found.op }];
      }
      case "get /projects/{project_id}/branches": {
        const p = this.project(pid!);
        const search = q.get("search") ?? "";
        return [200, { branches: [...p.branches.values()].filter((b) => b.name.includes(search) || b.id.includes(search)), annotations: {} }];
      }
      case "post /projects/{project_id}/branches":
        return [201, this.createBranch(this.project(pid!), body ?? {})];
      case "post /projects/{project_id}/branch_anonymized": {
        const p = this.project(pid!);
        const created = this.createBranch(p, body?.branch_create ?? {});
        this.anonymization(p, created.branch.id, body?.masking_rules ?? [], body?.start_anonymization === true);
        return [201, created];
      }
      case "get /projects/{project_id}/branches/{branch_id}/masking_rules": {
        const a = this.anonymized(this.project(pid!), bid!);
        return [200, { masking_rules: a.rules }];
      }
      case "patch /projects/{project_id}/branches/{branch_id}/masking_rules": {
        const a = this.anonymized(this.project(pid!), bid!);
        a.rules = body.masking_rules;
        a.updated_at = now();
        return [200, { masking_rules: a.rules }];
      }
      case "get /projects/{project_id}/branches/{branch_id}/anonymized_status":
        return [200, this.anonymizedStatus(this.project(pid!), bid!)];
      case "post /projects/{project_id}/branches/{branch_id}/anonymize": {
        const p = this.project(pid!);
        const a = this.anonymized(p, bid!);
        if (a.state === "anonymizing") throw Object.assign(new Error("anonymization is already running"), { status: 409 });
        this.startAnonymizing(a);
        return [200, this.anonymizedStatus(p, bid!)];
      }
      case "get /projects/{project_id}/branches/{branch_id}": {
        const p = this.project(pid!);
        return [200, { branch: this.branch(p, bid!), annotation: { object: { type: "console/branch", id: bid }, value: {} } }];
      }
      case "patch /projects/{project_id}/branches/{branch_id}": {
        const p = this.project(pid!);
        this.assertUnlocked(p);
        const b = this.branch(p, bid!);
        const spec = body?.branch ?? {};
        if (spec.name !== undefined) b.name = spec.name;
        if (spec.expires_at === null) {
          delete b.expires_at;
          delete b.ttl_interval_seconds;
        } else if (spec.expires_at !== undefined) {
          this.refuseExpiry(p, b, spec.expires_at);
          b.expires_at = spec.expires_at;
          b.ttl_interval_seconds = Math.round((Date.parse(spec.expires_at) - clock()) / 1000);
        }
        b.updated_at = now();
        return [200, { branch: b, operations: [] }];
      }
      case "delete /projects/{project_id}/branches/{branch_id}": {
        const p = this.project(pid!);
        this.assertUnlocked(p);
        const b = this.branch(p, bid!);
        if (b.default) throw Object.assign(new Error("cannot delete the default branch"), { status: 400 });
        p.branches.delete(bid!);
        for (const [id, e] of p.endpoints) if (e.branch_id === bid) p.endpoints.delete(id);
        return [200, { branch: b, operations: [this.operation(p, "delete_timeline", b.id)] }];
      }
      case "post /projects/{project_id}/branches/{branch_id}/restore": {
        const p = this.project(pid!);
        this.assertUnlocked(p);
        const target = this.branch(p, bid!);
        this.branch(p, body.source_branch_id);
        const hasChildren = [...p.branches.values()].some((b) => b.parent_id === bid);
        if ((hasChildren || body.source_branch_id === bid) && !body.preserve_under_name) {
          throw Object.assign(new Error("preserve_under_name is required when the branch has children or restores from itself"), { status: 400 });
        }
        const operations = [this.operation(p, "create_timeline", target.id)];
        if (body.preserve_under_name) {
          const parent = target.parent_id ? p.branches.get(target.parent_id) : undefined;
          const preserved = this.newBranch(p, body.preserve_under_name, parent, { default: false });
          // The preserved branch takes the old state: copy the target's roles and databases over.
          p.roles.set(preserved.id, new Map([...p.roles.get(target.id)!].map(([k, v]) => [k, { ...v, branch_id: preserved.id }])));
          p.databases.set(preserved.id, new Map([...p.databases.get(target.id)!].map(([k, v]) => [k, { ...v, branch_id: preserved.id }])));
          operations.push(this.operation(p, "create_branch", preserved.id));
        }
        target.updated_at = now();
        target.last_reset_at = now();
        return [200, { branch: target, operations }];
      }
      case "get /projects/{project_id}/branches/{branch_id}/roles": {
        const p = this.project(pid!);
        this.branch(p, bid!);
        return [200, { roles: [...p.roles.get(bid!)!.values()].map(stripRole) }];
      }
      case "post /projects/{project_id}/branches/{branch_id}/roles": {
        const p = this.project(pid!);
        this.assertUnlocked(p);
        this.branch(p, bid!);
        if (p.roles.get(bid!)!.has(body.role.name)) throw Object.assign(new Error(`role "${body.role.name}" already exists`), { status: 409 });
        const r = this.role(p, bid!, body.role.name);
        return [201, { role: r, operations: [this.operation(p, "apply_config", bid)] }];
      }
      case "get /projects/{project_id}/branches/{branch_id}/roles/{role_name}": {
        const p = this.project(pid!);
        const r = p.roles.get(this.branch(p, bid!).id)!.get(roleName!);
        if (!r) throw Object.assign(new Error(`role ${roleName} not found`), { status: 404 });
        return [200, { role: stripRole(r) }];
      }
      case "get /projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password": {
        const p = this.project(pid!);
        const r = p.roles.get(this.branch(p, bid!).id)!.get(roleName!);
        if (!r) throw Object.assign(new Error(`role ${roleName} not found`), { status: 404 });
        return [200, { password: r.password }];
      }
      case "delete /projects/{project_id}/branches/{branch_id}/roles/{role_name}": {
        const p = this.project(pid!);
        this.assertUnlocked(p);
        const roles = p.roles.get(this.branch(p, bid!).id)!;
        const r = roles.get(roleName!);
        if (!r) throw Object.assign(new Error(`role ${roleName} not found`), { status: 404 });
        roles.delete(roleName!);
        return [200, { role: stripRole(r), operations: [this.operation(p, "apply_config", bid)] }];
      }
      case "post /projects/{project_id}/branches/{branch_id}/databases": {
        const p = this.project(pid!);
        this.assertUnlocked(p);
        this.branch(p, bid!);
        if (p.databases.get(bid!)!.has(body.database.name)) throw Object.assign(new Error(`database "${body.database.name}" already exists`), { status: 409 });
        const d = this.database(p, bid!, body.database.name, body.database.owner_name);
        return [201, { database: d, operations: [this.operation(p, "apply_config", bid)] }];
      }
      case "get /projects/{project_id}/branches/{branch_id}/databases/{database_name}": {
        const p = this.project(pid!);
        const d = p.databases.get(this.branch(p, bid!).id)!.get(dbName!);
        if (!d) throw Object.assign(new Error(`database ${dbName} not found`), { status: 404 });
        return [200, { database: d }];
      }
      case "delete /projects/{project_id}/branches/{branch_id}/databases/{database_name}": {
        const p = this.project(pid!);
        this.assertUnlocked(p);
        const dbs = p.databases.get(this.branch(p, bid!).id)!;
        const d = dbs.get(dbName!);
        if (!d) throw Object.assign(new Error(`database ${dbName} not found`), { status: 404 });
        dbs.delete(dbName!);
        return [200, { database: d, operations: [this.operation(p, "apply_config", bid)] }];
      }
      case "get /projects/{project_id}/connection_uri": {
        const p = this.project(pid!);
        const branchId = q.get("branch_id") ?? [...p.branches.values()].find((b) => b.default)!.id;
        const r = p.roles.get(this.branch(p, branchId).id)!.get(q.get("role_name")!);
        const d = p.databases.get(branchId)!.get(q.get("database_name")!);
        const e = [...p.endpoints.values()].find((x) => x.branch_id === branchId);
        if (!r || !d || !e) throw Object.assign(new Error("role, database or endpoint not found on branch"), { status: 404 });
        const host = q.get("pooled") === "true" ? e.host.replace(/^([^.]+)/, "$1-pooler") : e.host;
        return [200, { uri: `postgresql://${r.name}:${r.password}@${host}/${d.name}?sslmode=require&channel_binding=require` }];
      }
      default:
        throw Object.assign(new Error(`the fake does not implement ${key}`), { status: 501 });
    }
  }
}
