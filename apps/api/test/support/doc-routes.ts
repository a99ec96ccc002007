// The API calls the operators' documents name (the runbooks and the root README), read from
// their text, to check against the OpenAPI document: a route renamed or a status value
// dropped would otherwise leave a page an on-call operator follows answering 404 or 400.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { deref, type OpenApiDocument, operationsOf, PUBLIC_V1_PATHS } from "./v1-surface.js";

/** The repository's root, from apps/api/test/support. */
export const REPO_ROOT = new URL("../../../../", import.meta.url).pathname;

/** The documents read: every runbook and the root README. */
export function operatorDocuments(): { file: string; text: string }[] {
  const runbooks = readdirSync(join(REPO_ROOT, "docs/runbooks"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/runbooks/${f}`);
  return [...runbooks, "README.md"].map((file) => ({
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
  readonly text: string;
}

const SEGMENT = "[A-Za-z0-9_.:{}<>…-]+";
/**
 * A path under /v1, with what says its method before it: `susu -X POST "$API/v1/…"`,
 * `susu "$API/v1/…"` (a GET), `POST /v1/…`, or the bare path (any method); not a file's path
 * (`apps/api/test/v1/…`).
 */
const CALL = new RegExp(
  String.raw`(?:(?<curl>susu(?:\s+-X\s+(?<curlMethod>[A-Z]+))?\s+"?\$API)|(?<method>GET|POST|PUT|PATCH|DELETE)\s+\x60?)?` +
    String.raw`(?<![a-z0-9_/.-])(?<path>/v1(?:/${SEGMENT})+)(?:\?(?<query>[^\s"'\x60)]*))?`,
  "g",
);

/** Every susu API call the documents name (Stripe's routes left out). */
export function documentedCalls(): DocumentedCall[] {
  const out: DocumentedCall[] = [];
  for (const { file, text } of operatorDocuments()) {
    for (const m of text.matchAll(CALL)) {
      const g = m.groups ?? {};
      const path = (g.path ?? "").replace(/[.:,]+$/, "");
      const first = path.split("/")[2] ?? "";
      if (STRIPE_RESOURCES.has(first)) continue;
      const method = g.curl !== undefined ? (g.curlMethod ?? "GET") : g.method;
      const query = (g.query ?? "")
        .split("&")
        .filter((pair) => pair !== "")
        .map((pair): [string, string] => {
          const [name, value = ""] = pair.split("=");
          return [name ?? "", value];
        });
      out.push({ file, ...(method !== undefined ? { method } : {}), path, query, text: m[0] });
    }
  }
  return out;
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
