import type { Client } from "pg";
import { describe, expect, it } from "vitest";
import type { MoveJournal } from "./moveJournal";
import { isFinal, MoveRefused, runSteps, undoSteps, VerificationFailed, type MoveStep, type RunnerState } from "./moveRunner";

/** The runner over a pool whose every journal write is kept, so a test sees what a crash would leave. */
function state(step = "begun", running?: string) {
  const saved: MoveJournal[] = [];
  const pool = { query: async (_sql: string, params: unknown[]) => void saved.push(JSON.parse(params[1] as string) as MoveJournal) } as unknown as Client;
  const journal: MoveJournal = { direction: "extract", from: { kind: "pool" }, to: { kind: "dedicated", stack: "s", project: "p" }, startedAt: "2026-12-02T00:00:00Z", step, copied: {}, ...(running ? { running } : {}) };
  const calls: string[] = [];
  const run: RunnerState & { calls: string[] } = { pool, tenantId: "alpha", journal, log: () => undefined, durations: {}, calls };
  return { run, saved, calls };
}

const step = (name: string, opts: { undo?: boolean; fail?: Error; ends?: boolean } = {}): MoveStep<RunnerState & { calls: string[] }> => ({
  name,
  ends: opts.ends,
  run: async (r) => {
    r.calls.push(`run ${name}`);
    if (opts.fail) throw opts.fail;
  },
  ...(opts.undo ? { undo: async (r: RunnerState & { calls: string[] }) => void r.calls.push(`undo ${name}`) } : {}),
});

describe("the move's step runner", () => {
  const plan = [step("a", { undo: true }), step("b"), step("c", { undo: true }), step("d", { ends: true })];

  it("runs the steps in order, recording each as it completes; a step with an undo is recorded as running first; the last step records nothing after it", async () => {
    const { run, saved, calls } = state();
    await runSteps(plan, run);
    expect(calls).toEqual(["run a", "run b", "run c", "run d"]);
    expect(saved.map((j) => [j.step, j.running ?? null])).toEqual([["begun", "a"], ["a", null], ["b", null], ["b", "c"], ["c", null]]);
    expect(run.journal.step).toBe("d");
  });

  it("resumes after the last completed step", async () => {
    const { run, calls } = state("b");
    await runSteps(plan, run);
    expect(calls).toEqual(["run c", "run d"]);
  });

  it("a failing step stays running in the journal; the undo covers it and the completed steps, last first, skipping those without one", async () => {
    const failing = [step("a", { undo: true }), step("b"), step("c", { undo: true, fail: new Error("connection reset") }), step("d")];
    const { run, calls } = state();
    await expect(runSteps(failing, run)).rejects.toThrow(/connection reset/);
    expect([run.journal.step, run.journal.running]).toEqual(["b", "c"]);
    await undoSteps(failing, run);
    expect(calls).toEqual(["run a", "run b", "run c", "undo c", "undo a"]);
  });

  it("an undo after a completed step does not undo the steps not begun", async () => {
    const { run, calls } = state("a");
    await undoSteps(plan, run);
    expect(calls).toEqual(["undo a"]);
  });

  it("runs only up to a step when asked, and nothing when the move is past it", async () => {
    const { run, calls } = state();
    await runSteps(plan, run, "b");
    expect(calls).toEqual(["run a", "run b"]);
    await runSteps(plan, run, "a");
    expect(calls).toEqual(["run a", "run b"]);
    await runSteps(plan, run, "d");
    expect(calls).toEqual(["run a", "run b", "run c", "run d"]);
  });

  it("refuses a journal naming a step the plan does not have, naming both", async () => {
    const { run } = state("teleport");
    await expect(runSteps(plan, run)).rejects.toThrow(/names a step this version does not know \("teleport"\); its steps are a, b, c, d/);
  });

  it("refusals and verification mismatches are final; anything else is retryable", () => {
    expect([new MoveRefused("x"), new VerificationFailed("y"), new Error("lock timeout")].map(isFinal)).toEqual([true, true, false]);
  });
});
