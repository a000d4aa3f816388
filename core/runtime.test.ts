import assert from "node:assert/strict";
import { BUILTIN_DEFAULTS, BUILTIN_MAXIMA, DEFAULT_RUNTIME_ANNOTATION, type LabelSelector, type ScriptRuntime } from "../crds/runtime.js";
import {
  type Choice, type NamespaceInfo, chooseRuntime, matchesSelector, missingModule, moduleSuggestion, parseRuntime, runtimeLimits,
} from "./runtime.js";
import { StaticRuntimes } from "./runtimeCatalog.js";
import { aRuntime, testRuntimes } from "./testkit.js";

const team: NamespaceInfo = { name: "team-a", labels: { team: "a", tier: "gold" } };
const bare: NamespaceInfo = { name: "scratch", labels: {} };

function refusal(choice: Choice): string {
  assert.equal(choice.ok, false, "expected a refusal");
  return (choice as { reason: string }).reason;
}

function chosen(choice: Choice): string {
  assert.ok(choice.ok, `expected a runtime, got: ${choice.ok ? "" : choice.reason}`);
  return choice.runtime.name;
}

function problems(runtime: ScriptRuntime): string[] {
  const parsed = parseRuntime(runtime);
  assert.equal(parsed.ok, false, "expected the spec to be refused");
  return (parsed as { problems: string[] }).problems;
}

/** A runtime with a spec the schema refuses, as an older CRD might have let through. */
function withSpec(name: string, spec: Record<string, unknown>): ScriptRuntime {
  return { ...aRuntime(name), spec: spec as ScriptRuntime["spec"] };
}

describe("parsing a runtime", () => {
  it("applies the defaults of every field a spec leaves out", () => {
    const parsed = parseRuntime(aRuntime("python", {}, { generation: 7 }));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.runtime, {
      name: "python",
      generation: 7,
      spec: {
        image: "localhost/scriptrun/runner:test",
        imagePullPolicy: "IfNotPresent",
        defaults: { ...BUILTIN_DEFAULTS },
        maxima: { ...BUILTIN_MAXIMA },
        requireObjectResult: false,
        pod: { seccompProfile: { type: "Unconfined" }, appArmorProfile: { type: "Unconfined" }, cpuRequest: "100m" },
      },
    });
  });

  it("fills the limits a spec leaves out of a partial defaults or maxima", () => {
    const parsed = parseRuntime(aRuntime("python", { defaults: { cpu: "1" }, maxima: { memory: "4Gi" } }));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.runtime.spec.defaults, { ...BUILTIN_DEFAULTS, cpu: "1" });
    assert.deepEqual(parsed.runtime.spec.maxima, { ...BUILTIN_MAXIMA, memory: "4Gi" });
  });

  it("keeps what the spec says over the defaults", () => {
    const parsed = parseRuntime(aRuntime("python", {
      image: "registry.example/runner:2", imagePullPolicy: "Always", requireObjectResult: true, modules: ["sklearn"],
      pod: { runtimeClassName: "gvisor", seccompProfile: { type: "RuntimeDefault" } },
    }));
    assert.ok(parsed.ok);
    assert.equal(parsed.runtime.spec.image, "registry.example/runner:2");
    assert.equal(parsed.runtime.spec.imagePullPolicy, "Always");
    assert.equal(parsed.runtime.spec.requireObjectResult, true);
    assert.deepEqual(parsed.runtime.spec.modules, ["sklearn"]);
    assert.deepEqual(parsed.runtime.spec.pod, {
      runtimeClassName: "gvisor", seccompProfile: { type: "RuntimeDefault" }, appArmorProfile: { type: "Unconfined" }, cpuRequest: "100m",
    });
  });

  it("parses one object once, and the object a cache puts in its place at a change anew", () => {
    const runtime = aRuntime("python", { defaults: { timeoutSeconds: 20 } }, { generation: 1 });
    const first = parseRuntime(runtime);
    assert.equal(parseRuntime(runtime), first, "the same answer for the same object");
    const changed = { ...runtime, metadata: { ...runtime.metadata, generation: 2 }, spec: { ...runtime.spec, defaults: { timeoutSeconds: 30 } } };
    const second = parseRuntime(changed);
    assert.ok(first.ok && second.ok);
    assert.deepEqual([first.runtime.generation, first.runtime.spec.defaults.timeoutSeconds], [1, 20]);
    assert.deepEqual([second.runtime.generation, second.runtime.spec.defaults.timeoutSeconds], [2, 30]);
  });

  it("reads a missing generation as 0", () => {
    const runtime = aRuntime("python");
    delete runtime.metadata.generation;
    const parsed = parseRuntime(runtime);
    assert.ok(parsed.ok);
    assert.equal(parsed.runtime.generation, 0);
  });

  for (const [field, defaults, maxima] of [
    ["timeoutSeconds", { timeoutSeconds: 61 }, { timeoutSeconds: 60 }],
    ["cpu", { cpu: "1500m" }, { cpu: "1" }],
    ["memory", { memory: "2G" }, { memory: "1.5Gi" }],
    ["pids", { pids: 129 }, { pids: 128 }],
    ["outputBytes", { outputBytes: 2049 }, { outputBytes: 2048 }],
  ] as const) {
    it(`refuses a default ${field} above its maximum, which only the apiserver's CEL rule would catch`, () => {
      assert.deepEqual(problems(aRuntime("python", { defaults, maxima })), [`defaults.${field} exceeds maxima.${field}`]);
    });
  }

  it("compares quantities by value, not as text, and accepts a default equal to its maximum", () => {
    assert.ok(parseRuntime(aRuntime("python", { defaults: { cpu: "1000m", memory: "1024Mi" }, maxima: { cpu: "1", memory: "1Gi" } })).ok);
    assert.ok(parseRuntime(aRuntime("python", { defaults: { cpu: "900m", memory: "900Mi" }, maxima: { cpu: "1", memory: "1G" } })).ok);
    assert.ok(parseRuntime(aRuntime("python", { defaults: { timeoutSeconds: 30, pids: 8, outputBytes: 10 }, maxima: { timeoutSeconds: 30, pids: 8, outputBytes: 10 } })).ok);
  });

  it("refuses maxima below the built-in defaults a spec leaves in place", () => {
    assert.deepEqual(problems(aRuntime("python", { maxima: { timeoutSeconds: 5 } })), ["defaults.timeoutSeconds exceeds maxima.timeoutSeconds"]);
  });

  it("lists every limit whose default exceeds its maximum", () => {
    assert.deepEqual(problems(aRuntime("python", { defaults: { cpu: "3", pids: 2000 } })), [
      "defaults.cpu exceeds maxima.cpu", "defaults.pids exceeds maxima.pids",
    ]);
  });

  it("names the field of each schema violation under spec", () => {
    const found = problems(withSpec("python", { image: "", defaults: { cpu: "lots" }, imagePullPolicy: "Sometimes" }));
    assert.equal(found.length, 3, found.join("; "));
    assert.ok(found.some((p) => p.startsWith("spec.image: ")), found.join("; "));
    assert.ok(found.some((p) => p.startsWith("spec.defaults.cpu: ")), found.join("; "));
    assert.ok(found.some((p) => p.startsWith("spec.imagePullPolicy: ")), found.join("; "));
  });

  it("refuses a spec without an image", () => {
    assert.ok(problems(withSpec("python", {})).some((p) => p.startsWith("spec.image: ")));
  });

  it("refuses limits outside the schema's ranges", () => {
    const found = problems(aRuntime("python", { defaults: { pids: 0 }, maxima: { timeoutSeconds: 3601 } }));
    assert.ok(found.some((p) => p.startsWith("spec.defaults.pids: ")), found.join("; "));
    assert.ok(found.some((p) => p.startsWith("spec.maxima.timeoutSeconds: ")), found.join("; "));
  });
});

describe("matching a namespace's labels with a label selector", () => {
  const labels = { team: "a", tier: "gold", empty: "" };
  const expression = (operator: "In" | "NotIn" | "Exists" | "DoesNotExist", key: string, values?: string[]): LabelSelector =>
    ({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });

  it("matches every namespace when there is no selector, or an empty one", () => {
    assert.equal(matchesSelector(undefined, {}), true);
    assert.equal(matchesSelector(undefined, labels), true);
    assert.equal(matchesSelector({}, {}), true);
    assert.equal(matchesSelector({ matchLabels: {}, matchExpressions: [] }, labels), true);
  });

  it("matchLabels needs every label, each with its value", () => {
    assert.equal(matchesSelector({ matchLabels: { team: "a" } }, labels), true);
    assert.equal(matchesSelector({ matchLabels: { team: "a", tier: "gold" } }, labels), true);
    assert.equal(matchesSelector({ matchLabels: { team: "a", tier: "silver" } }, labels), false);
    assert.equal(matchesSelector({ matchLabels: { team: "b" } }, labels), false);
    assert.equal(matchesSelector({ matchLabels: { region: "eu" } }, labels), false);
  });

  it("matchLabels with an empty value needs the label present and empty", () => {
    assert.equal(matchesSelector({ matchLabels: { empty: "" } }, labels), true);
    assert.equal(matchesSelector({ matchLabels: { region: "" } }, labels), false);
    assert.equal(matchesSelector({ matchLabels: { team: "" } }, labels), false);
  });

  it("In needs the label present with one of the values", () => {
    assert.equal(matchesSelector(expression("In", "tier", ["gold", "silver"]), labels), true);
    assert.equal(matchesSelector(expression("In", "tier", ["bronze", "silver"]), labels), false);
    assert.equal(matchesSelector(expression("In", "region", ["eu"]), labels), false);
    assert.equal(matchesSelector(expression("In", "empty", [""]), labels), true);
  });

  it("In with no values matches nothing", () => {
    assert.equal(matchesSelector(expression("In", "tier", []), labels), false);
    assert.equal(matchesSelector(expression("In", "tier"), labels), false);
  });

  it("NotIn matches a namespace without the label, or with another value", () => {
    assert.equal(matchesSelector(expression("NotIn", "region", ["eu"]), labels), true);
    assert.equal(matchesSelector(expression("NotIn", "tier", ["bronze"]), labels), true);
    assert.equal(matchesSelector(expression("NotIn", "tier", ["bronze", "gold"]), labels), false);
    assert.equal(matchesSelector(expression("NotIn", "tier", []), labels), true);
  });

  it("Exists needs the label, whatever its value, empty included", () => {
    assert.equal(matchesSelector(expression("Exists", "team"), labels), true);
    assert.equal(matchesSelector(expression("Exists", "empty"), labels), true);
    assert.equal(matchesSelector(expression("Exists", "region"), labels), false);
  });

  it("DoesNotExist needs the label absent, even empty counts as present", () => {
    assert.equal(matchesSelector(expression("DoesNotExist", "region"), labels), true);
    assert.equal(matchesSelector(expression("DoesNotExist", "team"), labels), false);
    assert.equal(matchesSelector(expression("DoesNotExist", "empty"), labels), false);
  });

  it("does not take an object's inherited properties for labels", () => {
    assert.equal(matchesSelector(expression("Exists", "constructor"), {}), false);
    assert.equal(matchesSelector(expression("DoesNotExist", "toString"), {}), true);
    assert.equal(matchesSelector(expression("NotIn", "constructor", ["x"]), {}), true);
  });

  it("needs every expression and every matchLabels entry to hold", () => {
    const selector: LabelSelector = {
      matchLabels: { team: "a" },
      matchExpressions: [{ key: "tier", operator: "In", values: ["gold"] }, { key: "frozen", operator: "DoesNotExist" }],
    };
    assert.equal(matchesSelector(selector, labels), true);
    assert.equal(matchesSelector(selector, { ...labels, frozen: "yes" }), false, "one failing expression");
    assert.equal(matchesSelector(selector, { ...labels, team: "b" }), false, "failing matchLabels, expressions holding");
    assert.equal(matchesSelector(selector, { team: "a" }), false, "matchLabels holding, an expression failing");
  });
});

describe("choosing the runtime of a run", () => {
  const python = aRuntime("python");
  const datascience = aRuntime("python-datascience", { image: "localhost/scriptrun/runner-datascience:test", modules: ["sklearn"] });

  it("gives a run that names no runtime the one annotated default", () => {
    assert.equal(chosen(chooseRuntime(undefined, [datascience, python], team)), "python");
    assert.equal(chosen(chooseRuntime(undefined, [aRuntime("other", {}, { isDefault: false }), aRuntime("slim", {}, { isDefault: true })], team)), "slim");
  });

  it("gives a run the runtime it names, default or not", () => {
    assert.equal(chosen(chooseRuntime("python-datascience", [python, datascience], team)), "python-datascience");
    assert.equal(chosen(chooseRuntime("python", [python, datascience], team)), "python");
  });

  it("returns the runtime parsed, its defaults applied", () => {
    const choice = chooseRuntime("python-datascience", [python, aRuntime("python-datascience", { maxima: { pids: 2048 } }, { generation: 3 })], team);
    assert.ok(choice.ok);
    assert.equal(choice.runtime.generation, 3);
    assert.equal(choice.runtime.spec.maxima.pids, 2048);
    assert.equal(choice.runtime.spec.maxima.cpu, BUILTIN_MAXIMA.cpu);
    assert.equal(choice.runtime.spec.imagePullPolicy, "IfNotPresent");
  });

  it("counts only the annotation value \"true\" as default", () => {
    const annotated = (name: string, value: string): ScriptRuntime =>
      ({ ...aRuntime(name, {}, { isDefault: false }), metadata: { name, generation: 1, annotations: { [DEFAULT_RUNTIME_ANNOTATION]: value } } });
    const reason = refusal(chooseRuntime(undefined, [annotated("a", "True"), annotated("b", "false"), annotated("c", "")], team));
    assert.match(reason, /^no runtime is annotated/);
  });

  it("refuses a runtime that does not exist, naming it and the ones this namespace may use", () => {
    assert.equal(refusal(chooseRuntime("pyhton", [python, datascience], team)),
      'runtime "pyhton" does not exist; the runtimes this namespace may use are: python, python-datascience');
    const elsewhere = aRuntime("other-team", { namespaceSelector: { matchLabels: { team: "nobody" } } }, { isDefault: false });
    assert.equal(refusal(chooseRuntime("pyhton", [python, elsewhere], team)),
      'runtime "pyhton" does not exist; the runtimes this namespace may use are: python');
  });

  it("says there are no runtimes at all when there are none", () => {
    assert.equal(refusal(chooseRuntime("python", [], team)), 'runtime "python" does not exist; the runtimes this namespace may use are: none');
    assert.match(refusal(chooseRuntime(undefined, [], team)), /\(none\)$/);
  });

  it("refuses a run naming no runtime when none is default, naming the annotation and the runtimes", () => {
    const reason = refusal(chooseRuntime(undefined, [aRuntime("zeta", {}, { isDefault: false }), aRuntime("alpha", {}, { isDefault: false })], team));
    assert.equal(reason, `no runtime is annotated ${DEFAULT_RUNTIME_ANNOTATION}: "true"; name one in runtime (alpha, zeta)`);
  });

  it("refuses a run naming no runtime when several are default, naming each of them", () => {
    const reason = refusal(chooseRuntime(undefined, [
      aRuntime("zeta", {}, { isDefault: true }), aRuntime("other", {}, { isDefault: false }), aRuntime("alpha", {}, { isDefault: true }),
    ], team));
    assert.equal(reason, `runtimes alpha, zeta are all annotated ${DEFAULT_RUNTIME_ANNOTATION}: "true"; name one in runtime`);
  });

  it("still gives a run the runtime it names when several are default", () => {
    const runtimes = [aRuntime("a", {}, { isDefault: true }), aRuntime("b", {}, { isDefault: true })];
    assert.equal(chosen(chooseRuntime("b", runtimes, team)), "b");
  });

  it("refuses a named runtime whose namespaceSelector does not match the namespace, naming both", () => {
    const gold = aRuntime("gold-only", { namespaceSelector: { matchLabels: { tier: "gold" } } });
    assert.equal(chosen(chooseRuntime("gold-only", [python, gold], team)), "gold-only");
    assert.equal(refusal(chooseRuntime("gold-only", [python, gold], bare)),
      'runtime "gold-only" may not be used in namespace "scratch": its namespaceSelector does not match the namespace\'s labels');
  });

  it("refuses the default runtime too when its namespaceSelector does not match", () => {
    const restricted = aRuntime("python", { namespaceSelector: { matchExpressions: [{ key: "team", operator: "Exists" }] } });
    assert.equal(chosen(chooseRuntime(undefined, [restricted], team)), "python");
    assert.match(refusal(chooseRuntime(undefined, [restricted], bare)), /^runtime "python" may not be used in namespace "scratch"/);
  });

  it("refuses a runtime whose spec is unusable, naming it and each problem", () => {
    const bad = aRuntime("broken", { defaults: { cpu: "4", memory: "8Gi" } });
    assert.equal(refusal(chooseRuntime("broken", [python, bad], team)),
      'runtime "broken" is not usable: defaults.cpu exceeds maxima.cpu; defaults.memory exceeds maxima.memory');
  });

  it("refuses a default runtime whose spec breaks the schema, naming it and the field", () => {
    assert.match(refusal(chooseRuntime(undefined, [withSpec("python", { image: "" })], team)), /^runtime "python" is not usable: spec\.image: /);
  });
});

describe("the limits of a runtime", () => {
  it("carries the runtime's defaults and maxima, named for the runtime, with the operator's script cap", () => {
    const parsed = parseRuntime(aRuntime("python-datascience", {
      defaults: { timeoutSeconds: 20, cpu: "1", memory: "512Mi", pids: 32, outputBytes: 1000 },
      maxima: { timeoutSeconds: 600, cpu: "4", memory: "8Gi", pids: 256, outputBytes: 5000 },
    }));
    assert.ok(parsed.ok);
    assert.deepEqual(runtimeLimits(parsed.runtime, 4096), {
      of: 'runtime "python-datascience"',
      timeoutSeconds: { default: 20, max: 600 },
      cpu: { default: "1", max: "4" },
      memory: { default: "512Mi", max: "8Gi" },
      pids: { default: 32, max: 256 },
      outputBytes: { default: 1000, max: 5000 },
      maxScriptBytes: 4096,
      importPolicy: {},
    });
  });

  it("carries the runtime's import policy, only the lists it sets", () => {
    const limits = (imports: { allow?: string[]; deny?: string[] }) => {
      const parsed = parseRuntime(aRuntime("python", { imports }));
      assert.ok(parsed.ok);
      return runtimeLimits(parsed.runtime, 1).importPolicy;
    };
    assert.deepEqual(limits({ deny: ["socket"] }), { deny: ["socket"] });
    assert.deepEqual(limits({ allow: ["math", "json"] }), { allow: ["math", "json"] });
    assert.deepEqual(limits({ allow: [], deny: ["os"] }), { allow: [], deny: ["os"] });
  });
});

describe("finding the module a script missed", () => {
  it("names the module of a ModuleNotFoundError", () => {
    assert.equal(missingModule("No module named 'sklearn'"), "sklearn");
    assert.equal(missingModule("ModuleNotFoundError: No module named 'pandas'"), "pandas");
  });

  it("names the top-level package of a missing submodule", () => {
    assert.equal(missingModule("No module named 'sklearn.linear_model'"), "sklearn");
    assert.equal(missingModule("No module named '_private_mod'"), "_private_mod");
  });

  it("names nothing for other errors", () => {
    assert.equal(missingModule("name 'x' is not defined"), undefined);
    assert.equal(missingModule("cannot import name 'foo' from 'bar'"), undefined);
    assert.equal(missingModule(""), undefined);
  });
});

describe("suggesting a runtime that has a missing module", () => {
  const python = aRuntime("python");
  const datascience = aRuntime("python-datascience", { modules: ["sklearn", "scipy"] });
  const ml = aRuntime("ml", { modules: ["sklearn", "torch"] });

  it("names the runtime whose image has the module", () => {
    assert.equal(moduleSuggestion("scipy", "python", [python, datascience, ml], team),
      "Module 'scipy' is in runtime \"python-datascience\": set runtime: python-datascience on the run");
  });

  it("names every runtime that has it, sorted, and suggests the first", () => {
    assert.equal(moduleSuggestion("sklearn", "python", [python, datascience, ml], team),
      "Module 'sklearn' is in runtimes \"ml\", \"python-datascience\": set runtime: ml on the run");
  });

  it("suggests no runtime whose spec is unusable", () => {
    const broken = aRuntime("broken-ml", { modules: ["sklearn"], defaults: { cpu: "4" }, maxima: { cpu: "1" } }, { isDefault: false });
    assert.equal(moduleSuggestion("sklearn", "python", [python, broken], team), undefined);
  });

  it("suggests nothing when no runtime has the module", () => {
    assert.equal(moduleSuggestion("tensorflow", "python", [python, datascience, ml], team), undefined);
    assert.equal(moduleSuggestion("sklearn", "python", [python], team), undefined);
  });

  it("never suggests the runtime the script already ran on", () => {
    assert.equal(moduleSuggestion("scipy", "python-datascience", [python, datascience, ml], team), undefined);
    assert.equal(moduleSuggestion("sklearn", "ml", [python, datascience, ml], team),
      "Module 'sklearn' is in runtime \"python-datascience\": set runtime: python-datascience on the run");
  });

  it("suggests only runtimes the namespace may use", () => {
    const goldMl = aRuntime("ml", { modules: ["sklearn"], namespaceSelector: { matchLabels: { tier: "gold" } } });
    assert.match(moduleSuggestion("sklearn", "python", [python, goldMl], team) ?? "", /set runtime: ml/);
    assert.equal(moduleSuggestion("sklearn", "python", [python, goldMl], bare), undefined);
    assert.equal(moduleSuggestion("sklearn", "python", [python, goldMl, datascience], bare),
      "Module 'sklearn' is in runtime \"python-datascience\": set runtime: python-datascience on the run");
  });
});

describe("the fixed runtimes of unit tests", () => {
  it("judges a namespace by the labels it was given", async () => {
    const gold = aRuntime("gold", { modules: ["sklearn"], namespaceSelector: { matchLabels: { tier: "gold" } } });
    const runtimes = new StaticRuntimes([aRuntime("python"), gold], { "team-a": { tier: "gold" } });
    assert.equal(chosen(await runtimes.choose("gold", "team-a")), "gold");
    assert.match(refusal(await runtimes.choose("gold", "elsewhere")), /namespace "elsewhere"/);
    assert.match(await runtimes.suggestFor("sklearn", "python", "team-a") ?? "", /set runtime: gold/);
    assert.equal(await runtimes.suggestFor("sklearn", "python", "elsewhere"), undefined);
  });

  it("holds the default runtime python alone when given none", async () => {
    assert.deepEqual(testRuntimes().list().map((r) => r.metadata.name), ["python"]);
    assert.equal(chosen(await testRuntimes().choose(undefined, "default")), "python");
  });
});
