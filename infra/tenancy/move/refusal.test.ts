import { describe, expect, it } from "vitest";
import type { CatalogRow } from "./moveJournal";
import { refusal } from "./tenantMove";
import { levelsOf } from "./tableOrder";

/** The refusals a move gives before anything changes, and the foreign-key ordering it copies and purges in. */
const pooled: CatalogRow = { id: "acme", isolation: "pooled", location: { kind: "pool" }, moveState: "settled", move: null, pendingPurge: null };
const dedicated: CatalogRow = { ...pooled, isolation: "dedicated", location: { kind: "dedicated", stack: "staging-acme", project: "bloom-staging-acme" } };

describe("move refusals", () => {
  it("an unknown tenant names bloom:tenants and up", () => {
    expect(refusal(undefined, "ghost", "extract")).toMatch(/unknown tenant "ghost".*bloom:tenants.*pulumi up/);
  });
  it("already where the move would take it", () => {
    expect(refusal(dedicated, "acme", "extract")).toMatch(/already dedicated \(stack staging-acme/);
    expect(refusal(pooled, "acme", "return")).toMatch(/already in the pool/);
  });
  it("a move of the other direction in progress names both ways out; the same direction resumes", () => {
    const extracting: CatalogRow = { ...pooled, moveState: "extracting", move: { direction: "extract", from: { kind: "pool" }, to: dedicated.location, startedAt: "2026-11-29T10:00:00Z", step: "fenced", copied: {} } };
    expect(refusal(extracting, "acme", "return")).toMatch(/an extract of tenant "acme" is in progress \(since 2026-11-29T10:00:00Z\).*bloom tenants extract acme.*bloom tenants abort acme/);
    expect(refusal(extracting, "acme", "extract")).toBeUndefined();
  });
  it("a move in progress resumes only in its own mode (copy or online), naming the command that resumes it", () => {
    const move = { direction: "extract" as const, from: { kind: "pool" as const }, to: dedicated.location, startedAt: "2026-11-29T10:00:00Z", step: "replicating" as const, copied: {} };
    const online: CatalogRow = { ...pooled, moveState: "extracting", move: { ...move, online: { publication: "p", slot: "s", subscription: "s" } } };
    const copy: CatalogRow = { ...pooled, moveState: "extracting", move: { ...move, step: "fenced" } };
    expect(refusal(online, "acme", "extract", true)).toBeUndefined();
    expect(refusal(online, "acme", "extract", false)).toMatch(/an online extract of tenant "acme" is in progress .*`bloom tenants extract acme --online`.*abort/);
    expect(refusal(copy, "acme", "extract", true)).toMatch(/a copy-mode extract .*`bloom tenants extract acme`/);
    expect(refusal(online, "acme", "return", true)).toMatch(/an online extract .*`bloom tenants extract acme --online`/);
  });
  it("the target still holding the copy of an earlier move must be purged first", () => {
    const returned: CatalogRow = { ...pooled, pendingPurge: { location: dedicated.location, movedAt: "2026-11-28T09:00:00Z", after: "2026-12-05T09:00:00Z" } };
    expect(refusal(returned, "acme", "extract")).toMatch(/dedicated database still holds .*purge it first with `bloom tenants purge acme --now`/);
    expect(refusal(returned, "acme", "return")).toMatch(/already in the pool/);
  });
});

describe("foreign-key levels", () => {
  it("parents before children; a level's tables are independent; self-references ignored", () => {
    const edges = [{ child: "therapist", parent: "branch" }, { child: "appointment", parent: "therapist" }, { child: "appointment", parent: "patient" }, { child: "payment", parent: "appointment" }, { child: "patient", parent: "patient" }];
    expect(levelsOf(["payment", "appointment", "therapist", "branch", "patient"], edges)).toEqual([["branch", "patient"], ["therapist"], ["appointment"], ["payment"]]);
  });
  it("a cycle is refused with the tables named and the fix", () => {
    expect(() => levelsOf(["a", "b"], [{ child: "a", parent: "b" }, { child: "b", parent: "a" }])).toThrow(/a, b reference each other in a cycle.*DEFERRABLE/);
  });
});
