// The lean part of the chaos suite (test/chaos/; `make chaos` runs the whole): the controller
// SIGKILLed three times while warm and cold runs are in flight, and a warm run's pod deleted a
// moment after its claim. Every run ends once, with its script's outcome or infrastructure_error.
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { type Scenario, controllerKills, runScenario, warmPodDeleted } from "../chaos/scenarios.js";
import { table } from "../chaos/tally.js";

describe("chaos, lean: the controller killed, a warm pod deleted", function () {
  const run = async (scenario: Scenario) => {
    const figures = await runScenario(scenario, { build: "source", logDir: `${tmpdir()}/scriptrun-chaos-test/${new Date().toISOString().replace(/[:.]/g, "-")}` });
    assert.equal(figures.verdict, "pass", `${table([figures])}\n${figures.problems.join("\n")}`);
    return figures;
  };

  it("ends every run exactly once, none lost, stuck or wrong, when the controller is SIGKILLed three times", async () => {
    const figures = await run(controllerKills(3));
    assert.ok(figures.runs >= 13, `only ${figures.runs} runs`);
  });

  it("ends a warm run whose pod is deleted right after its claim within seconds, not at the next resync", async () => {
    const figures = await run(warmPodDeleted);
    // Its other runs sleep at most 4 s; a controller that waited for its resync took about 60 s.
    assert.ok(figures.recoverSeconds !== null && figures.recoverSeconds < 20, `${table([figures])}\n${figures.notes.join("\n")}`);
  });
});
