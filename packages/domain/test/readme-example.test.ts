// The README's example is examples/run-a-round.ts, word for word, and it does what its
// comments say it prints. (`npm run typecheck` compiles the example: tsconfig.json
// includes examples/.)
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const examplePath = join(packageDir, "examples", "run-a-round.ts");
const example = readFileSync(examplePath, "utf8");
const readme = readFileSync(join(packageDir, "README.md"), "utf8");

/** The ```ts blocks of the README, each with the text just before it. */
function tsBlocks(markdown: string): { before: string; code: string }[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => ({
    before: markdown.slice(Math.max(0, m.index - 200), m.index),
    code: m[1] ?? "",
  }));
}

describe("the README's example", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("is examples/run-a-round.ts, as the README says", () => {
    const shown = tsBlocks(readme).filter((b) => b.before.includes("examples/run-a-round.ts"));
    expect(shown).toHaveLength(1);
    expect(shown[0]?.code).toBe(example);
  });

  it("prints what its comments say", async () => {
    // Each `// → text` line is what the console.log before it prints.
    const promised = [...example.matchAll(/^\/\/ → (.*)$/gm)].map((m) => m[1]);
    expect(promised.length).toBeGreaterThan(0);
    const printed: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(" "));
    });
    await import(examplePath);
    expect(printed).toEqual(promised);
  });
});
