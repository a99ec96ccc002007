// The API calls the operators' documents name (the runbooks, the root README and the apps'
// READMEs), read from their text, to check against the OpenAPI document: a route renamed or a status value
// dropped would otherwise leave a page an on-call operator follows answering 404 or 400.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { deref, type OpenApiDocument, operationsOf, PUBLIC_V1_PATHS } from "./v1-surface.js";

/** The repository's root, from apps/api/test/support. */
export const REPO_ROOT = new URL("../../../../", import.meta.url).pathname;

/** The documents read: every runbook, the root README and the apps' READMEs. */
export function operatorDocuments(): { file: string; text: string }[] {
  const runbooks = readdirSync(join(REPO_ROOT, "docs/runbooks"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/runbooks/${f}`);
  return [...runbooks, "README.md", "apps/api/README.md", "apps/scheduler/README.md"].map((file) => ({
    file,
    text: readFileSync(join(REPO_ROOT, file), "utf8"),
  }));
}

/**
 * Stripe's own routes the documents name (to look at in Stripe's API or Dashboard), not susu's.
 * Matched on the first segment after /v1.
 */
const STRIPE_RESOURCES = new Set([
  "accounts",
  "application_fees",
  "balance",
  "balance_transactions",
  "charges",
  "checkout",
  "customers",
  "disputes",
  "events",
  "invoice_payments",
  "invoices",
  "payment_intents",
  "payment_methods",
  "payouts",
  "prices",
  "products",
  "refunds",
  "setup_intents",
  "transfers",
  "webhook_endpoints",
]);

/** One API call a document names. */
export interface DocumentedCall {
  readonly file: string;
  /** Upper case; undefined when the text names the path without a method. */
  readonly method?: string;
  readonly path: string;
  readonly query: readonly (readonly [string, string])[];
  /** What names it: the command (from `curl`/`susu` or the method word) through the path and query. */
  readonly text: string;
}

/** A path segment: literal characters, a placeholder (`<id>`, `{id}`, `…`) or a shell variable (`$GROUP`, `${GROUP}`). */
const SEGMENT = String.raw`(?:\$\{[^}\s]*\}|[A-Za-z0-9_.:{}<>…$%-])+`;
const PATH = new RegExp(String.raw`/v1(?:/${SEGMENT})+(?:\?[^\s"'\x60)]*)?`, "g");
const METHODS = "GET|POST|PUT|PATCH|DELETE";
/** The host before a path that makes it a call to susu's API: `$API`, `${API}`, a local address. */
const SUSU_HOST = /(?:\$API|\$\{API\}|localhost:\d+|127\.0\.0\.1:\d+)$/;
/** The emulator's (Stripe's) API: not susu's. */
const STRIPE_HOST = /(?:\$EMU|\$\{EMU\}|api\.stripe\.com)$/;
/** Prose that names the method before the path: `POST /v1/…`, `` `GET`/`PUT /v1/…` ``, `` `GET`, `PUT /v1/…` ``. */
const PROSE_METHODS = new RegExp(
  String.raw`((?:\x60?(?:${METHODS})\x60?\s*[/,]\s*)*\x60?(?:${METHODS}))\s+\x60?$`,
);

/** The text as logical lines: a line ending in `\` continues on the next (a shell command's). */
function logicalLines(text: string): { line: string; start: number }[] {
  const out: { line: string; start: number }[] = [];
  let start = 0;
  let current = "";
  let currentStart = 0;
  for (const physical of text.split("\n")) {
    if (current === "") currentStart = start;
    start += physical.length + 1;
    if (/\\$/.test(physical)) {
      current += `${physical.slice(0, -1)} `;
      continue;
    }
    out.push({ line: current + physical, start: currentStart });
    current = "";
  }
  if (current !== "") out.push({ line: current, start: currentStart });
  return out;
}

/**
 * The method of the curl (or `susu`, the runbooks' alias of curl) command around a path: its
 * `-X`/`--request`, else POST when it sends a body (`-d`, `--data…`, `--json`, `-F`), else GET.
 */
function curlMethod(command: string): string {
  const explicit = command.match(
    new RegExp(String.raw`(?:^|\s)(?:-[A-Za-z]*X\s*|--request[\s=]+)["']?(${METHODS}|[A-Z]+)\b`),
  );
  if (explicit?.[1] !== undefined) return explicit[1];
  if (
    /(?:^|\s)(?:-[A-Za-z]*[dF]|--data(?:-raw|-binary|-urlencode)?|--json|--form)(?:[\s=]|['"])/.test(command)
  )
    return "POST";
  return "GET";
}

/** The calls one text names (Stripe's routes left out). */
export function callsIn(file: string, text: string): DocumentedCall[] {
  const out: DocumentedCall[] = [];
  for (const { line } of logicalLines(text)) {
    for (const m of line.matchAll(PATH)) {
      const at = m.index ?? 0;
      const before = line.slice(0, at);
      const [rawPath = "", rawQuery = ""] = m[0].split("?", 2) as [string, string?];
      const path = rawPath.replace(/[.:,]+$/, "");
      const query = (m[0].includes("?") ? rawQuery : "")
        .replace(/[.:,]+$/, "")
        .split("&")
        .filter((pair) => pair !== "")
        .map((pair): [string, string] => {
          const [name = "", value = ""] = pair.split("=");
          return [name, value];
        });
      const first = path.split("/")[2] ?? "";
      if (STRIPE_HOST.test(before.replace(/["']$/, "")) || STRIPE_RESOURCES.has(first)) continue;
      const hosted = SUSU_HOST.test(before.replace(/["']$/, ""));
      // Not a path of its own: part of a file's path (`apps/api/test/v1/…`) or a word.
      if (!hosted && /[a-z0-9_/.-]$/.test(before)) continue;
      const pathAndQuery = m[0].replace(/[.:,]+$/, "");
      if (hosted) {
        // The command: from the last `curl`/`susu` before the path to where the command ends.
        const commands = [...before.matchAll(/(?:^|[\s($\x60"'])(curl|susu)\s/g)];
        const last = commands.at(-1);
        if (last === undefined) {
          out.push({ file, path, query, text: pathAndQuery });
          continue;
        }
        const from = (last.index ?? 0) + last[0].indexOf(last[1] ?? "");
        const rest = line.slice(at + m[0].length);
        const end = rest.search(/\x60|\|\s|;|&&|\b(?:curl|susu)\s/);
        const command = line.slice(from, at + m[0].length) + (end === -1 ? rest : rest.slice(0, end));
        out.push({
          file,
          method: curlMethod(command),
          path,
          query,
          text: line.slice(from, at) + pathAndQuery,
        });
        continue;
      }
      const prose = before.match(PROSE_METHODS);
      const methods =
        prose?.[1] === undefined ? [] : [...prose[1].matchAll(new RegExp(METHODS, "g"))].map((x) => x[0]);
      if (methods.length === 0) out.push({ file, path, query, text: pathAndQuery });
      for (const method of methods)
        out.push({ file, method, path, query, text: `${method} ${pathAndQuery}` });
    }
  }
  return out;
}

/** Every susu API call the documents name (Stripe's routes left out). */
export function documentedCalls(): DocumentedCall[] {
  return operatorDocuments().flatMap(({ file, text }) => callsIn(file, text));
}

/** A documented value that stands for one (`<id>`, `{date}`, `evt_…`, `$X`, empty), not a literal. */
const isPlaceholder = (s: string) => s === "" || /[<>{}…$]/.test(s);

function segmentsMatch(documented: string, template: string): boolean {
  const a = documented.split("/");
  const b = template.split("/");
  if (a.length !== b.length) return false;
  return b.every((seg, i) => seg.startsWith("{") || (seg === a[i] && (seg === "" || !isPlaceholder(seg))));
}

/**
 * What is wrong with each call against the document: no route of that path (and method), or
 * a query parameter the route does not take or a value outside its enum.
 */
export function undocumentedCalls(doc: OpenApiDocument, calls: readonly DocumentedCall[]): string[] {
  const ops = operationsOf(doc);
  const problems: string[] = [];
  for (const call of calls) {
    if (PUBLIC_V1_PATHS.includes(call.path)) continue;
    const samePath = ops.filter((o) => segmentsMatch(call.path, o.path));
    const where = `${call.file}: ${call.text}`;
    // A bare path with no route of its own names a family of routes (`/v1/rounds`, `/v1/operations/…`).
    const family = call.path.replace(/\/…$/, "");
    if (
      samePath.length === 0 &&
      call.method === undefined &&
      ops.some((o) => o.path.startsWith(`${family}/`))
    )
      continue;
    if (samePath.length === 0) {
      problems.push(`${where}: no route ${call.path}`);
      continue;
    }
    const matching = call.method === undefined ? samePath : samePath.filter((o) => o.method === call.method);
    if (matching.length === 0) {
      problems.push(
        `${where}: ${call.path} takes ${samePath.map((o) => o.method).join(", ")}, not ${call.method}`,
      );
      continue;
    }
    for (const [name, value] of call.query) {
      const params = matching.flatMap((o) =>
        (o.op.parameters ?? []).filter((p) => p.in === "query" && p.name === name),
      );
      if (params.length === 0) {
        problems.push(`${where}: ${call.path} takes no query parameter ${name}`);
        continue;
      }
      if (isPlaceholder(value) || value.includes("|")) continue;
      const allowed = params.flatMap((p) => deref(doc, p.schema)?.enum ?? []);
      if (allowed.length > 0 && !allowed.includes(value))
        problems.push(`${where}: ${name}=${value} is not one of ${allowed.join(", ")}`);
    }
  }
  return problems;
}
