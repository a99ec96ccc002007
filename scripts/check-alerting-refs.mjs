// Checks that the operators' alerting names only what exists (run by check-alert-rules.sh):
// - every metric in the rules' expressions and the Grafana dashboard's queries is one the
//   apps export (read from their prom-client and registerGauge/registerCounter calls), one
//   of prom-client's process metrics, `up`, or a recording rule of the rules file;
// - every alert has a severity label, a summary, a description and a runbook_url, and that
//   runbook exists under docs/runbooks/; every page an admin notice links (ALERT_RUNBOOKS in
//   the notifier) exists too, and every runbook there belongs to an alert or a notice;
// - the runbooks, the root README and the apps' READMEs name only exported metrics in their
//   code (inline spans, which may wrap a line, and every line of fenced blocks: queries such as
//   `susu_outbox_effects{status="parked"}`), and only npm scripts of package.json in
//   `npm run …` (their API calls are checked against the OpenAPI document by
//   apps/api/test/v1/openapi.test.ts);
// - the rules, the dashboard and those documents select only label values the code can export:
//   the scheduler's tasks (SCHEDULER_TASKS and TIMER_KINDS) in `task`, and the statuses and
//   outcomes of LABEL_VALUES (Prisma enums, the depth queries, the scheduler's outcome words);
// - every dashboard panel has at least one query, and the datasource is the variable.
// Prints what is wrong and exits 1, or one line saying what was checked.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const RULES_DIR = "ops/prometheus/rules";
const DASHBOARD = "ops/grafana/susu-dashboard.json";
const RUNBOOKS = "docs/runbooks";
/** The dashboard's data source: Grafana's `datasource` variable, written as Grafana does. */
const DATASOURCE_UID = `\${datasource}`;
const problems = [];

// ─── Metric names in a PromQL expression ───────────────────────────────────

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
  "atan2",
]);

/**
 * The metric names an expression reads: identifiers that are not functions or aggregations
 * (followed by `(`), keywords, label names (inside `{…}` or a `by (…)`-style list), numbers,
 * durations, strings or Grafana variables.
 */
export function metricNames(expr) {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings
    .replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, "1") // Grafana variables ($__rate_interval, ${x})
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // label lists
  const names = new Set();
  const token = /(\d[\w.]*)|([A-Za-z_:][\w:]*)(\s*\()?/g;
  for (const m of s.matchAll(token)) {
    if (m[1] !== undefined || m[3] !== undefined) continue; // a number or duration; a call
    if (!KEYWORDS.has(m[2].toLowerCase())) names.add(m[2]);
  }
  return [...names];
}

// The parser checks itself first, so a change that breaks it cannot pass silently.
const selfChecks = [
  ['sum by (le) (rate(foo_bucket{a="b",c=~"x|y"}[5m])) / on () bar', ["foo_bucket", "bar"]],
  ["histogram_quantile(0.95, sum by (le, route) (rate(x_bucket[$__rate_interval])))", ["x_bucket"]],
  ['up{job="a"} == 0 and on () (sum(increase(c_total[15m])) or vector(0)) == 0', ["up", "c_total"]],
  ["max_over_time(g[1h:5m]) > 3 * y:rate5m offset 1d", ["g", "y:rate5m"]],
];
for (const [expr, want] of selfChecks) {
  const got = metricNames(expr).sort().join(",");
  if (got !== [...want].sort().join(",")) problems.push(`metricNames self-check: ${expr} gave [${got}]`);
}

// ─── What the apps export ──────────────────────────────────────────────────

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const exported = new Set(["up"]);
const metricSources = [
  ...sourceFiles(join(root, "apps/api/src")),
  ...sourceFiles(join(root, "apps/scheduler/src")),
  ...sourceFiles(join(root, "packages/adapters/src/metrics")),
];
for (const file of metricSources) {
  const text = readFileSync(file, "utf8");
  // A metric is declared by prom-client's constructors or the registry's scrape-time helpers
  // (registerGauge, registerCounter, registerHistogram).
  const declaration =
    /(new\s+(Counter|Gauge|Histogram|Summary)\s*\(\s*\{|register(Gauge|Counter|Histogram)\s*\(\s*\{)[\s\S]*?name:\s*"([a-zA-Z_:][\w:]*)"/g;
  for (const m of text.matchAll(declaration)) {
    const name = m[4];
    exported.add(name);
    if (m[2] === "Histogram" || m[2] === "Summary" || m[3] === "Histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) exported.add(name + suffix);
    }
  }
  // `const COLLECT_ERRORS = "susu_gauge_collect_errors_total"` then `name: COLLECT_ERRORS`.
  for (const m of text.matchAll(/const\s+[A-Z_]+\s*=\s*"(susu_[\w]+_total)"/g)) exported.add(m[1]);
}
// prom-client's collectDefaultMetrics (both apps turn them on).
const isProcessMetric = (name) => /^(process|nodejs)_/.test(name);

// ─── Scheduler tasks ───────────────────────────────────────────────────────

const SCHEDULER_METRICS = "apps/scheduler/src/metrics.ts";
const schedulerSource = readFileSync(join(root, SCHEDULER_METRICS), "utf8");
const taskList = schedulerSource.match(/export const SCHEDULER_TASKS[^=]*=\s*\[([\s\S]*?)\];/);
if (taskList === null) problems.push(`${SCHEDULER_METRICS}: SCHEDULER_TASKS not found`);
const tasks = new Set([...(taskList?.[1] ?? "").matchAll(/^\s*"([\w.]+)",/gm)].map((m) => m[1]));
// The timers' tasks, `<aggregate>_timer.<kind>`, from TIMER_KINDS as SCHEDULER_TASKS spreads them.
const timerKinds = schedulerSource.match(/const TIMER_KINDS = \{([\s\S]*?)\n\} as const/);
if (timerKinds === null) problems.push(`${SCHEDULER_METRICS}: TIMER_KINDS not found`);
for (const [, aggregate, kinds] of (timerKinds?.[1] ?? "").matchAll(/^\s*(\w+):\s*\{([^}]*)\}/gm))
  for (const [, kind] of kinds.matchAll(/(\w+):\s*true/g)) tasks.add(`${aggregate}_timer.${kind}`);
if (![...tasks].some((t) => t.includes("_timer.")))
  problems.push(`${SCHEDULER_METRICS}: no timer kinds read`);
// Tasks counted outside SCHEDULER_TASKS by name: `jobRan("timer", "unreadable", 0)`.
for (const file of sourceFiles(join(root, "apps/scheduler/src")))
  for (const [, task] of readFileSync(file, "utf8").matchAll(/\bjobRan\(\s*"([\w.]+)"/g)) tasks.add(task);

// ─── Label values the apps can export ──────────────────────────────────────

const SCHEMA = "packages/adapters/prisma/schema.prisma";
const schema = readFileSync(join(root, SCHEMA), "utf8");
/** The values of a Prisma enum (the database's words: susu's enums map no value). */
function prismaEnum(name) {
  const body = schema.match(new RegExp(`^enum ${name} \\{([^}]*)\\}`, "m"))?.[1];
  if (body === undefined) {
    problems.push(`${SCHEMA}: enum ${name} not found`);
    return new Set();
  }
  return new Set([...body.matchAll(/^\s*([a-z_]+)\s*$/gm)].map((m) => m[1]));
}
const OPS_COUNTS = "packages/adapters/src/prisma/operations-counts.ts";
const opsCounts = readFileSync(join(root, OPS_COUNTS), "utf8");
/** The statuses a depth query of operations-counts.ts counts (`status = 'x'`). */
function depthStatuses(constant) {
  const sql = opsCounts.match(new RegExp(`export const ${constant} = \`([^\`]*)\``))?.[1];
  if (sql === undefined) problems.push(`${OPS_COUNTS}: ${constant} not found`);
  return new Set([...(sql ?? "").matchAll(/\bstatus = '([a-z_]+)'/g)].map((m) => m[1]));
}
/** The string values of an object constant of the scheduler's metrics (`const X = { a: "b" } as const`). */
function constantValues(constant) {
  const body = schedulerSource.match(new RegExp(`const ${constant} = \\{([^}]*)\\}`))?.[1];
  if (body === undefined) problems.push(`${SCHEDULER_METRICS}: ${constant} not found`);
  return new Set([...(body ?? "").matchAll(/:\s*"([a-z_]+)"/g)].map((m) => m[1]));
}
/** The outcomes a counter is primed with (`for (const outcome of ["a", "b"]) x.inc(`). */
function primedOutcomes(counter) {
  const list = schedulerSource.match(
    new RegExp(`for \\(const outcome of \\[([^\\]]*)\\]\\) ${counter}\\.inc\\(`),
  )?.[1];
  if (list === undefined) problems.push(`${SCHEDULER_METRICS}: the outcomes of ${counter} not found`);
  return new Set([...(list ?? "").matchAll(/"([a-z_]+)"/g)].map((m) => m[1]));
}
/** The strings of a list or union in a source file (`const X = ["a", "b"]`, `type X = | "a" | "b";`). */
function listedStrings(file, pattern) {
  const body = readFileSync(join(root, file), "utf8").match(pattern)?.[1];
  if (body === undefined) problems.push(`${file}: ${pattern} not found`);
  return new Set([...(body ?? "").matchAll(/"([a-z_]+)"/g)].map((m) => m[1]));
}
const NOTIFICATION_METRICS = "apps/scheduler/src/notification-metrics.ts";
const CHECKOUT_METRICS = "apps/api/src/v1/checkout-metrics.ts";
/** Metric → label → the values the code can export, with where they come from. */
const LABEL_VALUES = {
  susu_rounds: { status: [prismaEnum("RoundState"), `${SCHEMA}'s RoundState`] },
  susu_held_payments: { status: [prismaEnum("HeldPaymentStatus"), `${SCHEMA}'s HeldPaymentStatus`] },
  susu_marketplace_charges: {
    status: [prismaEnum("MarketplaceChargeStatus"), `${SCHEMA}'s MarketplaceChargeStatus`],
  },
  susu_outbox_effects: { status: [depthStatuses("OUTBOX_DEPTH_SQL"), `${OPS_COUNTS}'s OUTBOX_DEPTH_SQL`] },
  susu_webhook_events: { status: [depthStatuses("WEBHOOK_DEPTH_SQL"), `${OPS_COUNTS}'s WEBHOOK_DEPTH_SQL`] },
  susu_scheduler_job_runs_total: { task: [tasks, `${SCHEDULER_METRICS}'s SCHEDULER_TASKS`] },
  susu_scheduler_job_duration_seconds_bucket: { task: [tasks, `${SCHEDULER_METRICS}'s SCHEDULER_TASKS`] },
  susu_webhook_events_processed_total: {
    outcome: [constantValues("WEBHOOK_OUTCOME"), `${SCHEDULER_METRICS}'s WEBHOOK_OUTCOME`],
  },
  susu_outbox_effects_settled_total: {
    outcome: [constantValues("EFFECT_OUTCOME"), `${SCHEDULER_METRICS}'s EFFECT_OUTCOME`],
  },
  susu_due_rounds_total: { outcome: [primedOutcomes("dueRounds"), `${SCHEDULER_METRICS}'s dueRounds`] },
  susu_stuck_work_total: {
    what: [
      listedStrings(SCHEDULER_METRICS, /export type StuckWorkKind =([^;]*);/),
      `${SCHEDULER_METRICS}'s StuckWorkKind`,
    ],
  },
  susu_notification_deliveries_total: {
    channel: [
      listedStrings(NOTIFICATION_METRICS, /for \(const channel of \[([^\]]*)\]\)/),
      NOTIFICATION_METRICS,
    ],
    outcome: [
      listedStrings(NOTIFICATION_METRICS, /for \(const outcome of \[([^\]]*)\]\)/),
      NOTIFICATION_METRICS,
    ],
  },
  susu_checkout_sessions_total: {
    outcome: [
      listedStrings(CHECKOUT_METRICS, /CHECKOUT_OUTCOMES = \[([^\]]*)\]/),
      `${CHECKOUT_METRICS}'s CHECKOUT_OUTCOMES`,
    ],
  },
};
for (const [metric, labels] of Object.entries(LABEL_VALUES))
  for (const [label, [values, from]] of Object.entries(labels))
    if (values.size === 0) problems.push(`${metric}{${label}}: no values read from ${from}`);

/**
 * What is wrong with the label values of the selectors in an expression: a value (`=`, `!=`)
 * the code never exports for that metric's label, or a regex (`=~`, `!~`) an alternative of
 * which matches none of them.
 */
export function labelValueProblems(expr) {
  const out = [];
  const selector = /([A-Za-z_:][\w:]*)\s*\{([^}]*)\}/g;
  for (const [, metric, matchers] of expr.matchAll(selector)) {
    const labels = LABEL_VALUES[metric];
    if (labels === undefined) continue;
    for (const [, label, op, value] of matchers.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      const known = labels[label];
      if (known === undefined || value.includes("$")) continue; // not checked; a Grafana variable
      const [values, from] = known;
      const regex = op.endsWith("~");
      for (const alternative of regex ? value.split("|") : [value]) {
        const matches = regex
          ? (() => {
              try {
                const re = new RegExp(`^(?:${alternative.replace(/\\\\/g, "\\")})$`);
                return [...values].some((v) => re.test(v));
              } catch {
                return false;
              }
            })()
          : values.has(alternative);
        if (!matches)
          out.push(
            `${metric}{${label}${op}"${value}"}: "${alternative}" is not one of ${from} (${[...values].join(", ")})`,
          );
      }
    }
  }
  return out;
}
// The label check checks itself first too: each planted value must be refused.
const labelSelfChecks = [
  ['susu_rounds{status="payout_blockd"} > 0', 1],
  ['sum(susu_held_payments{status=~"held|release_blokced"})', 1],
  ['susu_outbox_effects{status="done"}', 1],
  ['increase(susu_scheduler_job_runs_total{task="round_timer.payout_dew",outcome="failed"}[1h])', 1],
  ['susu_scheduler_job_runs_total{task=~"round_timer.*|rounds_timer.*"}', 1],
  ['susu_marketplace_charges{status="transfer_blocked"} + susu_rounds{status!="payout_blocked"}', 0],
  ['susu_webhook_events_processed_total{outcome="failed"}', 1],
  ['susu_scheduler_job_runs_total{task="timer",outcome="unreadable"}', 0],
  ['increase(susu_stuck_work_total{what="dead_worker_outbox_claim"}[1h])', 1],
  ['susu_notification_deliveries_total{channel="sms",outcome="bounced"}', 1],
  ['susu_checkout_sessions_total{outcome=~"completed|expired|abandonned"}', 1],
];
for (const [expr, want] of labelSelfChecks) {
  const got = labelValueProblems(expr);
  if (got.length !== want) problems.push(`labelValueProblems self-check: ${expr} gave [${got.join("; ")}]`);
}

// ─── The rules ─────────────────────────────────────────────────────────────

/** Rule blocks of a Prometheus rule file, read line by line (promtool checks the YAML itself). */
function parseRules(text) {
  const rules = [];
  const lines = text.split("\n");
  let current;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const start = line.match(/^(\s*)- (alert|record):\s*(\S+)/);
    if (start) {
      current = { type: start[2], name: start[3], fields: {}, indent: start[1].length };
      rules.push(current);
      continue;
    }
    if (/^\s*- name:/.test(line)) current = undefined;
    if (current === undefined) continue;
    const field = line.match(/^(\s*)(expr|severity|summary|description|runbook_url):\s*(.*)$/);
    if (!field) continue;
    let value = field[3].trim();
    if (/^[|>][-+]?$/.test(value)) {
      // A block scalar: the following lines indented deeper than the key.
      const keyIndent = field[1].length;
      const block = [];
      while (i + 1 < lines.length && (lines[i + 1].trim() === "" || indentOf(lines[i + 1]) > keyIndent)) {
        block.push(lines[++i].trim());
      }
      value = block.join(" ").trim();
    } else {
      value = value.replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
    }
    current.fields[field[2]] = value;
  }
  return rules;
}
const indentOf = (line) => line.length - line.trimStart().length;

const ruleFiles = readdirSync(join(root, RULES_DIR)).filter((f) => /\.ya?ml$/.test(f));
const rules = ruleFiles.flatMap((f) => parseRules(readFileSync(join(root, RULES_DIR, f), "utf8")));
const recorded = new Set(rules.filter((r) => r.type === "record").map((r) => r.name));
const known = (name) => exported.has(name) || recorded.has(name) || isProcessMetric(name);

const alerts = rules.filter((r) => r.type === "alert");
for (const rule of rules) {
  const where = `${rule.type} ${rule.name}`;
  if (!rule.fields.expr) {
    problems.push(`${where}: no expr`);
    continue;
  }
  for (const name of metricNames(rule.fields.expr)) {
    if (!known(name)) problems.push(`${where}: metric ${name} is not exported by the apps`);
  }
  for (const p of labelValueProblems(rule.fields.expr)) problems.push(`${where}: ${p}`);
}
for (const alert of alerts) {
  const where = `alert ${alert.name}`;
  if (!["critical", "warning", "info"].includes(alert.fields.severity ?? ""))
    problems.push(`${where}: severity label missing or not critical|warning|info`);
  for (const key of ["summary", "description"]) {
    if (!alert.fields[key]) problems.push(`${where}: no ${key} annotation`);
  }
  const want = `${RUNBOOKS}/${alert.name}.md`;
  if (alert.fields.runbook_url !== want) problems.push(`${where}: runbook_url should be ${want}`);
  else {
    try {
      const text = readFileSync(join(root, want), "utf8");
      for (const heading of ["## What it means", "## How to look", "## What to do"]) {
        if (!text.includes(heading)) problems.push(`${want}: no "${heading}" section`);
      }
    } catch {
      problems.push(`${where}: ${want} does not exist`);
    }
  }
}
// The pages admin notices link (`template: "Page.md"` in ALERT_RUNBOOKS), some of them alerts' pages.
const NOTIFIER = "packages/adapters/src/notify/delivering-notifier.ts";
const notifierSource = readFileSync(join(root, NOTIFIER), "utf8");
const runbookTable = notifierSource.match(/export const ALERT_RUNBOOKS[^=]*=\s*\{([^}]*)\}/);
if (runbookTable === null) problems.push(`${NOTIFIER}: ALERT_RUNBOOKS not found`);
const noticePages = new Set(
  [...(runbookTable?.[1] ?? "").matchAll(/^\s*\w+:\s*"([^"]+\.md)"/gm)].map((m) => m[1]),
);
for (const page of noticePages) {
  try {
    const text = readFileSync(join(root, RUNBOOKS, page), "utf8");
    for (const heading of ["## What it means", "## How to look", "## What to do"]) {
      if (!text.includes(heading)) problems.push(`${RUNBOOKS}/${page}: no "${heading}" section`);
    }
  } catch {
    problems.push(`${NOTIFIER}: ALERT_RUNBOOKS names ${RUNBOOKS}/${page}, which does not exist`);
  }
}
const alertNames = new Set(alerts.map((a) => a.name));
for (const file of readdirSync(join(root, RUNBOOKS))) {
  if (
    file.endsWith(".md") &&
    file !== "README.md" &&
    !alertNames.has(file.slice(0, -3)) &&
    !noticePages.has(file)
  )
    problems.push(`${RUNBOOKS}/${file}: no alert of that name, and no admin notice links it`);
}

// ─── What the runbooks and the README tell operators to run ────────────────

// The metrics their queries name (inside `code`), the scheduler tasks they filter on, and the
// npm scripts they run. Their API calls are checked against the OpenAPI document by
// apps/api/test/v1/openapi.test.ts, which needs the app.
const scripts = new Set(
  Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts ?? {}),
);
/** Names that look like metrics: the apps' and prom-client's prefixes, and the recording rules' `susu:…`. */
const looksLikeMetric = (name) => /^(susu_|http_|process_|nodejs_|susu:[a-z])/.test(name);
/**
 * Code that is a query: it selects, calls or ranges (`{`, `(`, `[`); in a runbook, a bare
 * metric name too (the README's bare `susu_…` names are database names and metadata keys).
 */
const isQuery = (code, doc) =>
  /[{([]/.test(code) || (doc.startsWith(`${RUNBOOKS}/`) && /^(susu_|susu:)[\w:]+$/.test(code));

/**
 * The code of a Markdown text: every line of a fenced block, and every inline span (which may
 * wrap onto the next line; the line break reads as a space). A span is a run of backticks and
 * the next run of the same length, as CommonMark pairs them.
 */
export function codeOf(text) {
  const out = [];
  let prose = [];
  const flush = () => {
    const joined = prose.join("\n");
    prose = [];
    // A blank line ends a paragraph: no span crosses it.
    for (const paragraph of joined.split(/\n[ \t]*\n/))
      for (const m of paragraph.matchAll(/(`+)([\s\S]*?[^`])\1(?!`)/g))
        out.push(m[2].replace(/\s*\n\s*/g, " ").trim());
  };
  let fence;
  for (const line of text.split("\n")) {
    const marker = line.match(/^\s*(`{3,}|~{3,})/)?.[1];
    if (fence === undefined && marker !== undefined) {
      flush();
      fence = marker;
    } else if (
      fence !== undefined &&
      marker !== undefined &&
      marker[0] === fence[0] &&
      marker.length >= fence.length &&
      line.trim() === marker
    ) {
      fence = undefined;
    } else if (fence !== undefined) {
      if (line.trim() !== "") out.push(line.trim());
    } else prose.push(line);
  }
  flush();
  return out;
}
// The Markdown reader checks itself: a fenced block's lines, a span wrapping a line break, a
// span of two backticks holding one, and no span across a paragraph.
const codeSelfChecks = [
  ['a `x{a="b"}` b\n\n```sh\nfoo{a="b"} > 0\nbar\n```\n', ['x{a="b"}', 'foo{a="b"} > 0', "bar"]],
  ["see `sum by (x)\n(y)` and `z`", ["sum by (x) (y)", "z"]],
  ["a `` q`r `` b", ["q`r"]],
  ["a ` b\n\nc `e`", ["e"]],
];
for (const [md, want] of codeSelfChecks) {
  const got = codeOf(md);
  if (JSON.stringify(got) !== JSON.stringify(want))
    problems.push(`codeOf self-check: ${JSON.stringify(md)} gave ${JSON.stringify(got)}`);
}

const operatorDocs = [
  ...readdirSync(join(root, RUNBOOKS))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `${RUNBOOKS}/${f}`),
  "README.md",
  "apps/api/README.md",
  "apps/scheduler/README.md",
];
let docQueries = 0;
let docSpans = 0;
for (const doc of operatorDocs) {
  const text = readFileSync(join(root, doc), "utf8");
  for (const code of codeOf(text)) {
    docSpans++;
    if (/^npm run\b/.test(code) || /\$\(npm run/.test(code) || /^\$API|^susu |^curl /.test(code)) continue;
    if (/^[a-z]+:\/\//.test(code)) continue; // a URL
    const names = isQuery(code, doc) ? metricNames(code).filter(looksLikeMetric) : [];
    if (names.length > 0) docQueries++;
    for (const name of names) {
      if (!known(name))
        problems.push(`${doc}: \`${code}\` names metric ${name}, which the apps do not export`);
    }
    for (const p of labelValueProblems(code)) problems.push(`${doc}: \`${code}\`: ${p}`);
    // A `task` matcher whatever it selects (a metric the table above does not name, or none).
    if (!/susu_scheduler_job_(runs_total|duration_seconds_bucket)\s*\{/.test(code))
      for (const [matcher] of code.matchAll(/\btask\s*(?:=~|!~|!=|=)\s*"[^"]*"/g))
        for (const p of labelValueProblems(`susu_scheduler_job_runs_total{${matcher}}`))
          problems.push(`${doc}: \`${code}\`: ${p}`);
  }
  for (const [, script] of text.matchAll(/\bnpm run(?:\s+-s)?\s+([a-z][\w:-]*)/g)) {
    if (!scripts.has(script)) problems.push(`${doc}: \`npm run ${script}\`: package.json has no such script`);
  }
}
// A reader that finds no code would pass vacuously.
if (docSpans < 1000 || docQueries < 60)
  problems.push(`the documents gave ${docSpans} code spans and ${docQueries} queries: the reader is broken`);

// ─── The dashboard ─────────────────────────────────────────────────────────

const dashboard = JSON.parse(readFileSync(join(root, DASHBOARD), "utf8"));
const variables = dashboard.templating?.list ?? [];
if (!variables.some((v) => v.type === "datasource" && v.query === "prometheus" && v.name === "datasource"))
  problems.push(`${DASHBOARD}: no Prometheus datasource variable named "datasource"`);
const allPanels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
let queries = 0;
for (const panel of allPanels) {
  if (panel.type === "row") continue;
  const where = `${DASHBOARD}: panel "${panel.title}"`;
  const targets = panel.targets ?? [];
  if (targets.length === 0) problems.push(`${where}: no query`);
  if (panel.datasource?.uid !== DATASOURCE_UID) problems.push(`${where}: datasource is not $datasource`);
  for (const target of targets) {
    queries++;
    if (!target.expr) problems.push(`${where}: target ${target.refId} has no expr`);
    for (const name of metricNames(target.expr ?? "")) {
      if (!known(name)) problems.push(`${where}: metric ${name} is not exported by the apps or recorded`);
    }
    for (const p of labelValueProblems(target.expr ?? "")) problems.push(`${where}: ${p}`);
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(
  `alerting references: ${alerts.length} alerts and ${recorded.size} recording rules, ` +
    `${queries} dashboard queries, ${docQueries} queries in ${docSpans} code spans and lines of the runbooks and the READMEs, ` +
    `against ${exported.size} metric names from ` +
    `${metricSources.length} source files (${relative(root, join(root, RULES_DIR))}, ${DASHBOARD}, ${RUNBOOKS})`,
);
