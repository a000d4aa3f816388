// Derives the CRD from the zod schema and writes crds/scriptrun.dev_scriptruns.yaml and the Helm
// chart's copy (`npm run crds`). crd.test.ts and test/chart.test.ts fail when either committed file
// drifts from what this produces.
import { writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { z } from "zod";
import { GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, ScriptRunSpecSchema, ScriptRunStatusSchema, VERSION } from "./schema.js";

export const CRD_PATH = fileURLToPath(new URL("./scriptrun.dev_scriptruns.yaml", import.meta.url));
export const CHART_CRD_PATH = fileURLToPath(new URL("../charts/scriptrun/crds/scriptrun.dev_scriptruns.yaml", import.meta.url));

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
 * node typed (or explicitly free-form), no additionalProperties, no unions, bounds that mean
 * something. Throws naming the path when the zod schema asks for what a CRD cannot hold.
 */
export function toStructural(node: JsonSchema, path: string): JsonSchema {
  for (const key of ["anyOf", "oneOf", "allOf", "not", "$ref"]) {
    if (key in node) throw new Error(`${path}: '${key}' has no structural form; restructure the zod schema`);
  }
  const free = node[PRESERVE] === true;
  if (node.type === undefined && !free) throw new Error(`${path}: no type (mark free-form values with ${PRESERVE})`);
  if (node.type === "object" && node.properties === undefined && !free) {
    throw new Error(`${path}: a map of arbitrary keys needs ${PRESERVE}`);
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
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return out;
}

export function openApiSchema(schema: z.ZodType, path: string): JsonSchema {
  // io "input": fields with defaults are optional and carry `default`, which the apiserver applies.
  return toStructural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" }) as JsonSchema, path);
}

export function scriptRunCrd(): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES },
      scope: "Namespaced",
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Phase of the run" },
          { name: "Duration(ms)", type: "integer", jsonPath: ".status.durationMs", description: "How long the script ran, in milliseconds" },
          { name: "Result", type: "string", jsonPath: ".status.summary", description: "Short result, or error type and message" },
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
        ],
        schema: {
          openAPIV3Schema: {
            type: "object",
            description: "A Python script run once in a sandboxed pod; its outcome is written to status.",
            required: ["spec"],
            properties: {
              apiVersion: { type: "string", description: "APIVersion of this object (scriptrun.dev/v1alpha1)." },
              kind: { type: "string", description: "Kind of this object (ScriptRun)." },
              metadata: { type: "object" },
              spec: openApiSchema(ScriptRunSpecSchema, "spec"),
              status: openApiSchema(ScriptRunStatusSchema, "status"),
            },
          },
        },
      }],
    },
  };
}

export function renderCrd(): string {
  const header = "# Generated by crds/generate.ts from crds/schema.ts (`npm run crds`); do not edit by hand.\n";
  return header + stringify(scriptRunCrd(), { lineWidth: 0 });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const path of [CRD_PATH, CHART_CRD_PATH]) {
    writeFileSync(path, renderCrd());
    console.log(`Wrote ${path}`);
  }
}
