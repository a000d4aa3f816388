// The document's patterns for resources must call valid only what the API takes.
import assert from "node:assert/strict";
import { parseQuantity } from "../core/quantity.js";
import { cpuPattern, memoryPattern, upTo } from "./quantityPatterns.js";

describe("the documented resource quantities", () => {
  it("matches exactly the integers from 1 to the maximum, without leading zeros", () => {
    for (const max of [1, 9, 10, 99, 100, 305, 2000, 2048]) {
      const re = new RegExp(`^${upTo(max)}$`);
      for (let i = 0; i <= 3000; i++) assert.equal(re.test(String(i)), i >= 1 && i <= max, `${i} against ${max}`);
      assert.equal(re.test("01"), false);
    }
  });

  it("names only quantities above nothing (memory: from 1Mi) and within the cap", () => {
    const cpu = new RegExp(cpuPattern("2"));
    const memory = new RegExp(memoryPattern("2Gi"));
    for (const ok of ["1m", "500m", "2000m", "1", "2"]) assert.ok(cpu.test(ok) && parseQuantity(ok) <= 2, ok);
    for (const no of ["0", "0m", "2001m", "3", "0.5", "1Ti"]) assert.equal(cpu.test(no), false, no);
    for (const ok of ["1Mi", "256Mi", "2048Mi", "1Gi", "2Gi"]) assert.ok(memory.test(ok), ok);
    for (const no of ["0Mi", "2049Mi", "3Gi", "512", "1M"]) assert.equal(memory.test(no), false, no);
  });
});
