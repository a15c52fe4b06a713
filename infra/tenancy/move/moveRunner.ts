import type { Client } from "pg";
import { saveJournal, type MoveJournal } from "./moveJournal";
import type { MoveLease } from "./moveLease";

/**
 * A move is a list of steps run in order by one runner (the shape of pgroll's operations). A step is idempotent:
 * run again after a crash, it finishes what it began. The journal in the tenant's catalog row records the last step
 * completed (and, before a step with an undo starts, that it is running), so:
 *   - a rerun resumes after the last completed step;
 *   - an abort, or a failure the plan does not keep for a rerun, undoes the running step and the completed ones in
 *     reverse — every undo is idempotent and tolerates a step that stopped half way.
 * A failure is final (a refusal, a verification mismatch: running it again gives the same answer) or retryable
 * (anything else: a BL503 wait, a lock timeout, the network); a workflow engine retries only the latter.
 */
export interface MoveStep<R> {
  name: string;
  /** The move ends with this step (it clears the journal itself): nothing is recorded after it. */
  ends?: boolean;
  run(run: R): Promise<Partial<MoveJournal> | void>;
  /** Puts back what `run` changed; runs for the step in progress too, so it must tolerate a partial run. */
  undo?(run: R): Promise<void>;
}

/** What the runner needs of a run: the pool connection holding the move's lease, the journal, a log. */
export interface RunnerState {
  pool: Client;
  /** Checked before every step and undo; guards the journal's writes (moveLease.ts). */
  lease?: MoveLease;
  tenantId: string;
  journal: MoveJournal;
  log(line: string): void;
  /** Milliseconds each step took in this process (a step skipped on resume has none). */
  durations: Record<string, number>;
}

/** A failure no retry can change: the runner undoes the move instead of keeping it for a rerun. */
export class FinalMoveError extends Error {
  constructor(message: string, name = "FinalMoveError") {
    super(message);
    this.name = name;
  }
}

export const isFinal = (err: unknown): boolean => err instanceof FinalMoveError;

/** The move cannot start or go on as asked (unknown tenant, already there, a target holding rows, …). */
export class MoveRefused extends FinalMoveError {
  constructor(message: string) {
    super(message, "MoveRefused");
  }
}

/** Source and target disagree after the copy: copying again would not make them agree by itself. */
export class VerificationFailed extends FinalMoveError {
  constructor(message: string) {
    super(message, "VerificationFailed");
  }
}

/** The steps still to run: those after the last completed one. */
export function remainingSteps<R>(steps: MoveStep<R>[], journal: MoveJournal): MoveStep<R>[] {
  return steps.slice(completedCount(steps, journal));
}

/** Runs the remaining steps, or only those up to and including `through` (nothing when the move is past it). */
export async function runSteps<R extends RunnerState>(steps: MoveStep<R>[], run: R, through?: string): Promise<void> {
  const last = through === undefined ? steps.length - 1 : steps.findIndex((s) => s.name === through);
  if (last < 0) throw new Error(`no step "${through}" in this move; its steps are ${steps.map((s) => s.name).join(", ")}`);
  for (const step of steps.slice(completedCount(steps, run.journal), last + 1)) {
    await run.lease?.check();
    if (step.undo) await record(run, { running: step.name });
    const started = Date.now();
    const patch = (await step.run(run)) ?? {};
    run.durations[step.name] = Date.now() - started;
    if (step.ends) run.journal = { ...run.journal, ...patch, step: step.name };
    else await record(run, { ...patch, step: step.name, running: undefined });
  }
}

/** The running step and the completed ones undone, last first. The caller clears the journal after. */
export async function undoSteps<R extends RunnerState>(steps: MoveStep<R>[], run: R): Promise<void> {
  const done = completedCount(steps, run.journal);
  const running = steps.findIndex((s) => s.name === run.journal.running);
  const upTo = Math.max(done, running + 1);
  for (const step of steps.slice(0, upTo).reverse()) {
    if (!step.undo) continue;
    await run.lease?.check();
    await step.undo(run);
  }
}

function completedCount<R>(steps: MoveStep<R>[], journal: MoveJournal): number {
  if (journal.step === "begun") return 0;
  const at = steps.findIndex((s) => s.name === journal.step);
  if (at < 0) throw new Error(`the move's journal names a step this version does not know ("${journal.step}"); its steps are ${steps.map((s) => s.name).join(", ")}: finish it with the version that began it, or abort it`);
  return at + 1;
}

async function record(run: RunnerState, patch: Partial<MoveJournal>): Promise<void> {
  run.journal = { ...run.journal, ...patch };
  if (run.journal.running === undefined) delete run.journal.running;
  await saveJournal(run.pool, run.tenantId, run.journal, run.lease);
}
