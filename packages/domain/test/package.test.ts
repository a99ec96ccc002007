// What other teams install: the files `npm pack` puts in @susu/domain's tarball. Runs
// `npm pack --dry-run` (offline, no build: it lists what is on disk), so the dist part is
// only checked where a build left one.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));

function packedFiles(): string[] {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: packageDir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [report] = JSON.parse(out) as [{ files: { path: string }[] }];
  return report.files.map((f) => f.path).sort();
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(packageDir, join(e.parentPath, e.name)).split("\\").join("/"));
}

const files = packedFiles();

describe("the published tarball", () => {
  it("carries the README, the license and package.json", () => {
    expect(files).toEqual(expect.arrayContaining(["README.md", "LICENSE", "package.json"]));
  });

  it("carries no tests, test reports or build state", () => {
    const unwanted = files.filter(
      (f) => /\.(test|spec)\.[cm]?[jt]s(\.map)?$/.test(f) || f.endsWith(".tsbuildinfo"),
    );
    expect(unwanted).toEqual([]);
    expect(
      files.filter((f) => f.startsWith("reports/") || f.startsWith("test/") || f.startsWith("node_modules/")),
    ).toEqual([]);
  });

  // npm shows the README on the package's page and a reader opens it in node_modules: a
  // link to a file the tarball lacks is a dead link in both places.
  it("carries every file the README links to", () => {
    const readme = readFileSync(join(packageDir, "README.md"), "utf8");
    const targets = [
      ...readme.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g),
      ...readme.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm),
    ].map((m) => m[1] ?? "");
    const relative = targets
      .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith("#"))
      .map((t) => t.split("#")[0]?.replace(/^\.\//, "") ?? "");
    expect(relative.length).toBeGreaterThan(0);
    const missing = relative.filter((t) => !files.includes(t));
    expect(missing).toEqual([]);
  });

  it("carries every source file the source maps point to (all of src but the tests)", () => {
    const sources = sourceFiles(join(packageDir, "src")).filter((f) => !/\.(test|spec)\.ts$/.test(f));
    expect(files.filter((f) => f.startsWith("src/"))).toEqual(sources.sort());
  });
});

describe("the exports map", () => {
  const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
    exports: Record<string, string | Record<string, string>>;
  };
  /** The entry points, each with its conditions (package.json is a plain file: one target, no conditions). */
  const entryPoints = Object.entries(manifest.exports).filter(
    (e): e is [string, Record<string, string>] => typeof e[1] !== "string",
  );

  // Tools (bundlers, license checkers, version reporters) read a dependency's package.json
  // by its subpath; with an exports map and no entry for it, Node refuses the import.
  it("lets tools read package.json through the package's name", () => {
    const resolved = createRequire(import.meta.url).resolve("@susu/domain/package.json");
    expect(resolved).toBe(join(packageDir, "package.json"));
    expect(files).toContain("package.json");
  });

  // The workspace resolves its packages to TypeScript sources with a condition of its
  // own. A generic name ("source", as many monorepos use) would make a consumer's own
  // `--conditions source` or `customConditions: ["source"]` load our .ts files: Node
  // cannot run them, and tsc checks them under the consumer's compiler options.
  it("uses only types, default and the workspace's own @susu/source condition", () => {
    expect(entryPoints.map(([subpath]) => subpath)).toEqual([".", "./testing"]);
    for (const [subpath, conditions] of entryPoints) {
      expect(Object.keys(conditions), subpath).toEqual(["@susu/source", "types", "default"]);
    }
  });

  it("points only at files the tarball carries", () => {
    for (const [, conditions] of entryPoints) {
      for (const [condition, target] of Object.entries(conditions)) {
        const path = target.replace(/^\.\//, "");
        // dist exists only after a build; the sources always do.
        if (condition !== "@susu/source" && !existsSync(join(packageDir, path))) continue;
        expect(files, `${condition}: ${target}`).toContain(path);
      }
    }
  });
});
