/**
 * Dependency rules checked in CI (`npm run deps:check`).
 * The domain is a library other teams import on its own: it may import only
 * neverthrow and its own files. Nothing outside the composition roots imports inversify.
 */
module.exports = {
  forbidden: [
    {
      name: "domain-imports-only-neverthrow",
      comment:
        "packages/domain may import nothing but neverthrow and its own files (tests may use test tools)",
      severity: "error",
      from: { path: "^packages/domain/(src|examples)", pathNot: "\\.test\\.ts$" },
      to: {
        pathNot: ["^packages/domain/src", "node_modules/neverthrow"],
      },
    },
    {
      name: "domain-no-node-builtins",
      comment: "the domain is pure: no node: built-ins (time, randomness and I/O come through ports)",
      severity: "error",
      from: { path: "^packages/domain/src", pathNot: "\\.test\\.ts$" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "inversify-only-in-composition-roots",
      comment: "only apps/*/src/container.ts binds ports to adapters",
      severity: "error",
      from: { pathNot: "^apps/[^/]+/src/container\\.ts$" },
      to: { path: "node_modules/inversify" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|reports|generated)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["@susu/source", "import", "require", "node", "default"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
