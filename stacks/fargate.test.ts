import { describe, expect, it } from "vitest";
import { describeFargateSizes, isValidFargateSize } from "./fargate";

describe("Fargate sizes", () => {
  it.each([
    [256, 512],
    [256, 2048],
    [512, 4096],
    [1024, 2048],
    [2048, 16384],
    [4096, 30720],
    [8192, 16384],
    [8192, 61440],
    [16384, 122880],
  ])("accepts cpu %i with memory %i", (cpu, memory) => {
    expect(isValidFargateSize(cpu, memory)).toBe(true);
  });

  it.each([
    [256, 4096],
    [512, 512],
    [1024, 1024],
    [1024, 2500],
    [8192, 18432],
    [16384, 36864],
    [384, 1024],
  ])("rejects cpu %i with memory %i", (cpu, memory) => {
    expect(isValidFargateSize(cpu, memory)).toBe(false);
  });

  it("explains the valid memory for a cpu", () => {
    expect(describeFargateSizes(256)).toBe("cpu 256 takes memory 512 or 1024-2048 in steps of 1024");
    expect(describeFargateSizes(3)).toContain("cpu must be one of 256, 512");
  });
});
