import { authResponses } from "./auth.js";
import { edgeResponses } from "./edge.js";
import { idempotencyResponses } from "./idempotency.js";
import { overloadResponses } from "./overload.js";
import { PROBLEM_CODES, PROBLEM_CONTENT_TYPE } from "./problem-response.js";
import { rateLimitResponses } from "./rate-limit.js";

// A route's `responses` is an object literal: spread together, two maps that both describe
// a status keep only the last one's codes (a POST's `...postResponses` then its own 409 or
// 422 dropped `idempotency_key_in_use` or `idempotency_key_reused`; the Idempotency-Key's
// 400 and 503 dropped the edge's `invalid_request`, `malformed_json` and `auth_unavailable`).
// So what the middlewares answer is merged into the generated document once, here, into
// every operation under the prefix, beside the route's own codes of the same status.

/** A problem response of the generated document, as problemDoc describes it. */
interface DocumentedResponse {
  description: string;
  content?: unknown;
  headers?: Record<string, unknown>;
  [PROBLEM_CODES]?: string[];
}

interface DocumentShape {
  paths?: Record<string, Record<string, unknown>>;
}

/** A middleware's problem response, as problemDoc makes it. */
interface ProblemDoc {
  readonly description: string;
  readonly headers?: Readonly<Record<string, { readonly description: string }>>;
  readonly [PROBLEM_CODES]?: readonly string[];
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"] as const;

/**
 * The problem responses the middlewares `installHttpInfrastructure` mounts under the prefix
 * may give a request of `method`: the overload guard (503), the token (401, 503), the rate limit (429), the edge (400,
 * 405, 413, 415), the server for what Node's HTTP parser refuses (400, 408, 413, 431), the
 * 500 any handler may end in (`onError`'s `internal_error`, a database's `storage_refused`)
 * and, on a POST, the Idempotency-Key (400, 409, 422, 503). Not the 403
 * `insufficient_role` of `requireRole`, which no route under the prefix mounts.
 */
export function infrastructureResponses(method: string): readonly (readonly [string, ProblemDoc])[] {
  const all: [string, ProblemDoc][] = [
    ["400", edgeResponses[400] as ProblemDoc],
    ["401", authResponses[401] as ProblemDoc],
    ["405", edgeResponses[405] as ProblemDoc],
    ["408", edgeResponses[408] as ProblemDoc],
    ["431", edgeResponses[431] as ProblemDoc],
    ["413", edgeResponses[413] as ProblemDoc],
    ["415", edgeResponses[415] as ProblemDoc],
    ["500", edgeResponses[500] as ProblemDoc],
    ["429", rateLimitResponses[429] as ProblemDoc],
    ["503", authResponses[503] as ProblemDoc],
    ["503", overloadResponses[503] as ProblemDoc],
  ];
  if (method.toLowerCase() === "post")
    for (const [status, doc] of Object.entries(idempotencyResponses)) all.push([status, doc as ProblemDoc]);
  return all;
}

const CODES = /\sCodes: ((?:`[^`]+`(?:, )?)+)\.$/;

/** The codes a problem response's description lists (problemDoc's `Codes: \`a\`, \`b\`.`). */
function codesOf(description: string): string[] {
  const listed = CODES.exec(description)?.[1] ?? "";
  return [...listed.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
}

/** What a description says before its codes. */
function proseOf(description: string): string {
  return description.replace(CODES, "");
}

/**
 * `existing` (a route's description of a status) with what `added` (a middleware's) says
 * and lists too: its sentence after the route's, its codes after the route's, once each.
 */
function mergedDescription(existing: string, added: string): string {
  const own = codesOf(existing);
  const codes = codesOf(added).filter((code) => !own.includes(code));
  if (codes.length === 0) return existing;
  const prose = proseOf(existing).includes(proseOf(added))
    ? proseOf(existing)
    : `${proseOf(existing)} ${proseOf(added)}`;
  return `${prose} Codes: ${[...own, ...codes].map((code) => `\`${code}\``).join(", ")}.`;
}

/** A response doc's headers as the generated document writes them. */
function headersOf(doc: ProblemDoc): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(doc.headers ?? {}).map(([name, h]) => [
      name,
      { description: h.description, schema: { type: "string" } },
    ]),
  );
}

/**
 * Merges into `document` (an OpenAPI document as generated, changed in place and returned)
 * the problem responses of {@link infrastructureResponses} at every operation whose path
 * starts with `prefix`, except `publicPaths` (served without a token): a status the
 * operation describes gets the middleware's codes added to its own (in its description and
 * its `x-problem-codes`) and its headers where it has none of that name; a status it does
 * not describe is added whole.
 */
export function withInfrastructureResponses<D>(
  document: D,
  prefix: string,
  publicPaths: readonly string[] = [],
): D {
  const paths = (document as DocumentShape).paths ?? {};
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith(`${prefix}/`) || publicPaths.includes(path)) continue;
    for (const method of METHODS) {
      const operation = item[method] as { responses?: Record<string, DocumentedResponse> } | undefined;
      if (operation === undefined) continue;
      const responses = operation.responses ?? {};
      operation.responses = responses;
      for (const [status, doc] of infrastructureResponses(method)) {
        const existing = responses[status];
        if (existing === undefined) {
          responses[status] = {
            description: doc.description,
            content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } } },
            headers: headersOf(doc),
            [PROBLEM_CODES]: [...(doc[PROBLEM_CODES] ?? [])],
          };
          continue;
        }
        existing.description = mergedDescription(existing.description, doc.description);
        const own = existing[PROBLEM_CODES] ?? [];
        const added = (doc[PROBLEM_CODES] ?? []).filter((code) => !own.includes(code));
        existing[PROBLEM_CODES] = [...own, ...added];
        const headers = headersOf(doc);
        if (Object.keys(headers).length > 0) existing.headers = { ...headers, ...existing.headers };
      }
    }
  }
  return document;
}
