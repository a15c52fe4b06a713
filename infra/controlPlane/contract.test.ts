import { describe, expect, it } from "vitest";
import { MOVE_ACTIVITY_STEPS } from "./contract";
import { copyModePlan } from "../tenancy/move/moveSteps";
import { onlinePlan } from "../tenancy/move/onlineMove";

describe("the move workflow's activities", () => {
  it("end at steps of the plans, in the plans' order, the last at the cutover (fence through cutover is one activity)", () => {
    for (const [mode, plan] of [["copy", copyModePlan], ["online", onlinePlan]] as const) {
      const names = plan.steps.map((s) => s.name);
      const at = MOVE_ACTIVITY_STEPS[mode].map((s) => names.indexOf(s));
      expect(at.every((i) => i >= 0)).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
      expect(at.at(-1)).toBe(names.length - 1);
      // No activity boundary between the fence and the cutover.
      expect(at.filter((i) => i >= names.indexOf("fence") && i < names.length - 1)).toEqual([]);
    }
  });
});
