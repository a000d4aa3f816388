// Derives the CRDs from the zod schemas and writes crds/scriptrun.dev_scriptruns.yaml,
// crds/scriptrun.dev_scriptruntimes.yaml, the Helm chart's copies, and the runtime spec that the
// chart's values.schema.json checks `runtimes.*.spec` with (`npm run crds`). crd.test.ts and
// test/chart.test.ts fail when a committed file drifts from what this produces.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { z } from "zod";
import {
  DEFAULT_RUNTIME_ANNOTATION, RUNTIME_KIND, RUNTIME_PLURAL, RUNTIME_SHORT_NAMES, RUNTIME_SINGULAR, ScriptRuntimeSpecSchema,
  ScriptRuntimeStatusSchema,
} from "./runtime.js";
import { GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, ScriptRunSpecSchema, ScriptRunStatusSchema, VERSION } from "./schema.js";

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
/** Each CRD file and how it is made; the chart has a copy of each under charts/scriptrun/crds/. */
export const CRD_FILES = {
  "scriptrun.dev_scriptruns.yaml": () => scriptRunCrd(),
  "scriptrun.dev_scriptruntimes.yaml": () => scriptRuntimeCrd(),
} as const;
export type CrdFile = keyof typeof CRD_FILES;
export const crdPath = (file: CrdFile) => here(`./${file}`);
export const chartCrdPath = (file: CrdFile) => here(`../charts/scriptrun/crds/${file}`);

type JsonSchema = Record<string, unknown>;

const PRESERVE = "x-kubernetes-preserve-unknown-fields";
// Keys of Kubernetes' JSONSchemaProps that the schema uses, besides properties and items.
// Anything else zod emits is dropped; the order here is the order in the YAML.
const KEPT = [
  "type", "description", "default", "enum", "format", "pattern", "minimum", "maximum",
  "minLength", "maxLength", "minItems", "maxItems", "maxProperties", "nullable", PRESERVE,
  "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-validations", "required",
];

/**
 * Turns one node of zod's OpenAPI 3.0 output into a structural Kubernetes schema node: every
 * node typed (or explicitly free-form), maps only of typed values, no unions, bounds that mean
 * something. Throws naming the path when the zod schema asks for what a CRD cannot hold.
 */
export function toStructural(node: JsonSchema, path: string): JsonSchema {
  for (const key of ["anyOf", "oneOf", "allOf", "not", "$ref"]) {
    if (key in node) throw new Error(`${path}: '${key}' has no structural form; restructure the zod schema`);
  }
  const free = node[PRESERVE] === true;
  if (node.type === undefined && !free) throw new Error(`${path}: no type (mark free-form values with ${PRESERVE})`);
  const values = typeof node.additionalProperties === "object" ? node.additionalProperties as JsonSchema : undefined;
  if (node.type === "object" && node.properties === undefined && !free && values?.type === undefined) {
    throw new Error(`${path}: a map of arbitrary keys needs ${PRESERVE}, or values of one type`);
  }
  if (!path.endsWith("[]") && (typeof node.description !== "string" || node.description === "")) {
    throw new Error(`${path}: no description (kubectl explain shows it)`);
  }
  const out: JsonSchema = {};
  for (const key of KEPT) {
    const value = node[key];
    if (value === undefined) continue;
    // Bounds zod adds for JavaScript's number range, and date-time regexes the format already checks.
    if ((key === "maximum" && value === Number.MAX_SAFE_INTEGER) || (key === "minimum" && value === Number.MIN_SAFE_INTEGER)) continue;
    if (key === "pattern" && node.format === "date-time") continue;
    out[key] = value;
  }
  if (node.properties !== undefined) {
    const properties: Record<string, JsonSchema> = {};
    for (const [name, child] of Object.entries(node.properties as Record<string, JsonSchema>)) {
      properties[name] = toStructural(child, `${path}.${name}`);
    }
    out.properties = properties;
  }
  if (node.items !== undefined) out.items = toStructural(node.items as JsonSchema, `${path}[]`);
  if (values?.type !== undefined && node.properties === undefined) out.additionalProperties = toStructural(values, `${path}[]`);
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return out;
}

export function openApiSchema(schema: z.ZodType, path: string): JsonSchema {
  // io "input": fields with defaults are optional and carry `default`, which the apiserver applies.
  return toStructural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" }) as JsonSchema, path);
}

interface CrdShape {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: "Namespaced" | "Cluster";
  categories?: string[];
  description: string;
  columns: Array<Record<string, string>>;
  spec: z.ZodType;
  status: z.ZodType;
}

/** One served and stored version with a status subresource, the schema derived from zod. */
function crd(shape: CrdShape): Record<string, unknown> {
  const { kind, plural, singular, shortNames, scope, categories } = shape;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind, listKind: `${kind}List`, plural, singular, shortNames, ...(categories ? { categories } : {}) },
      scope,
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [...shape.columns, { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }],
        schema: {
          openAPIV3Schema: {
            type: "object",
            description: shape.description,
            required: ["spec"],
            properties: {
              apiVersion: { type: "string", description: `APIVersion of this object (${GROUP}/${VERSION}).` },
              kind: { type: "string", description: `Kind of this object (${kind}).` },
              metadata: { type: "object" },
              spec: openApiSchema(shape.spec, "spec"),
              status: openApiSchema(shape.status, "status"),
            },
          },
        },
      }],
    },
  };
}

export function scriptRunCrd(): Record<string, unknown> {
  return crd({
    kind: KIND, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES, scope: "Namespaced",
    description: "A Python script run once in a sandboxed pod; its outcome is written to status.",
    columns: [
      { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Phase of the run" },
      { name: "Duration(ms)", type: "integer", jsonPath: ".status.durationMs", description: "How long the script ran, in milliseconds" },
      { name: "Result", type: "string", jsonPath: ".status.summary", description: "Short result, or error type and message" },
    ],
    spec: ScriptRunSpecSchema,
    status: ScriptRunStatusSchema,
  });
}

export function scriptRuntimeCrd(): Record<string, unknown> {
  return crd({
    kind: RUNTIME_KIND, plural: RUNTIME_PLURAL, singular: RUNTIME_SINGULAR, shortNames: RUNTIME_SHORT_NAMES, scope: "Cluster",
    categories: ["scriptrun"],
    description: "What scripts run on: a runner image, the limits of its runs, and how their pods are placed and confined.",
    columns: [
      { name: "Image", type: "string", jsonPath: ".spec.image", description: "The runner image" },
      { name: "Default", type: "string", jsonPath: `.metadata.annotations.${DEFAULT_RUNTIME_ANNOTATION.replaceAll(".", "\\.")}`, description: "Whether runs that name no runtime get this one" },
      { name: "Accepted", type: "string", jsonPath: ".status.conditions[?(@.type==\"Accepted\")].status", description: "Whether the spec is usable" },
      { name: "Warm", type: "string", jsonPath: ".status.warm", description: "Ready and desired warm pods, over every namespace" },
    ],
    spec: ScriptRuntimeSpecSchema,
    status: ScriptRuntimeStatusSchema,
  });
}

export const CHART_VALUES_SCHEMA_PATH = here("../charts/scriptrun/values.schema.json");

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A zod-made JSON Schema node as values.schema.json has it: unknown keys refused in every object,
 * as in the rest of that file, and without the CEL rules, which only the apiserver evaluates. */
function closed(node: Json): Json {
  if (Array.isArray(node)) return node.map(closed);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key !== "$schema" && key !== "x-kubernetes-validations") out[key] = closed(value);
  }
  if (out.type === "object" && out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** The chart's values.schema.json with its definitions.runtimeSpec derived from the ScriptRuntime
 * spec schema; the rest of the file is written by hand. */
export function renderValuesSchema(): string {
  const schema = JSON.parse(readFileSync(CHART_VALUES_SCHEMA_PATH, "utf8")) as { definitions: Record<string, Json> };
  schema.definitions.runtimeSpec = closed(z.toJSONSchema(ScriptRuntimeSpecSchema, { target: "draft-7", io: "input" }) as Json);
  return `${JSON.stringify(schema, null, 2)}\n`;
}

export function renderCrd(file: CrdFile = "scriptrun.dev_scriptruns.yaml"): string {
  const source = file === "scriptrun.dev_scriptruns.yaml" ? "crds/schema.ts" : "crds/runtime.ts";
  const header = `# Generated by crds/generate.ts from ${source} (\`npm run crds\`); do not edit by hand.\n`;
  return header + stringify(CRD_FILES[file](), { lineWidth: 0 });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const file of Object.keys(CRD_FILES) as CrdFile[]) {
    for (const path of [crdPath(file), chartCrdPath(file)]) {
      writeFileSync(path, renderCrd(file));
      console.log(`Wrote ${path}`);
    }
  }
  writeFileSync(CHART_VALUES_SCHEMA_PATH, renderValuesSchema());
  console.log(`Wrote ${CHART_VALUES_SCHEMA_PATH}`);
}
