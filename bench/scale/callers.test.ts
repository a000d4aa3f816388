import assert from "node:assert/strict";
import { countAnswers } from "./callers.js";

describe("make scale's callers", () => {
  it("count answers by status, and the API's errors by status and type with the first message", () => {
    const call = (status: number, error?: { type: string; message: string }) => ({ status, answer: String(status), right: status === 200, ms: 1, ...(error ? { error } : {}) });
    const counted = countAnswers([
      call(200), call(200),
      call(503, { type: "cluster_unavailable", message: "The Kubernetes API did not answer in time" }),
      call(503, { type: "cluster_unavailable", message: "The Kubernetes API answered 500: etcdserver: request timed out" }),
      call(503, { type: "preflight_unavailable", message: "the checker died" }),
      { status: 0, answer: "error", right: false, ms: 1 },
    ]);
    assert.deepEqual(counted, {
      answers: { 200: 2, 503: 3, error: 1 },
      errors: {
        "503 cluster_unavailable": { count: 2, message: "The Kubernetes API did not answer in time" },
        "503 preflight_unavailable": { count: 1, message: "the checker died" },
      },
    });
  });
});
