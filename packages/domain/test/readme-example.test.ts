// What a reader of the README meets: its example is examples/run-a-round.ts, word for
// word, and does what its comments say it prints (`npm run typecheck` compiles it:
// tsconfig.json includes examples/); its tables render with their columns.
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

describe("the README's tables", () => {
  // GitHub and npm split a table row at every `|` not escaped, inside code spans too: a
  // `a | b` in a cell breaks the row into more cells than the header has.
  it("have as many cells in every row as in their header", () => {
    const cellsOf = (row: string) => row.split(/(?<!\\)\|/).length;
    const broken: string[] = [];
    let header: number | undefined;
    for (const line of readme.split("\n")) {
      if (!line.startsWith("|")) {
        header = undefined;
        continue;
      }
      header ??= cellsOf(line);
      if (cellsOf(line) !== header) broken.push(line.slice(0, 40));
    }
    expect(broken).toEqual([]);
  });
});
