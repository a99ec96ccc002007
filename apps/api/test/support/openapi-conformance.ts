// Every response a test gets from the app under /v1 is checked against the OpenAPI document
// the app serves: client apps generate their typed clients from it, so the document must say
// exactly what is sent. For the operation the request matched (method and path template) and
// the response's status: the status is documented, the media type sent is documented, and the
// JSON body validates against the documented schema (JSON Schema 2020-12, as OpenAPI 3.1 has
// it), made strict for the check: an object's property the schema does not declare is a
// violation, unless the schema deliberately takes any keys (a record, `additionalProperties`
// given). A problem's `code` is one the response lists for that operation and status (its
// `x-problem-codes`; a problem response that lists none is a violation too). A violation fails
// the test that made the request (the app's `fetch` throws).

import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { openApiDocumentOf } from "../../src/app.js";
import { PROBLEM_CODES, PROBLEM_CONTENT_TYPE, PROVIDER_CODE } from "../../src/http/problem-response.js";
import type { JsonSchema, OpenApiDocument, OpenApiOperation } from "./v1-surface.js";
import { operationsOf } from "./v1-surface.js";

/** One way a response differs from what the document says. */
export interface Violation {
  /** `GET /v1/groups/g_1` as requested. */
  readonly request: string;
  /** `GET /v1/groups/{groupId}`: the operation it matched. */
  readonly operation: string;
  readonly status: number;
  /** The JSON pointer of the mismatch in the body ("" for the whole response). */
  readonly pointer: string;
  readonly message: string;
}

/** What the checker reads of a response. */
export interface CheckedResponse {
  readonly method: string;
  /** The request's path, percent-encoded as sent, without the query. */
  readonly path: string;
  readonly status: number;
  /** The Content-Type header, if any. */
  readonly contentType: string | null;
  /** The body as text ("" when none). */
  readonly body: string;
}

/** Checks responses against one document; each schema is compiled once, when first needed. */
export interface ConformanceChecker {
  check(response: CheckedResponse): Violation[];
}

/** The base URI the document's components are registered under in the checking copy. */
const COMPONENTS_ID = "https://susu.dev/openapi-check/components.json";
/** The name suffix of a component's open variant (its own keys, no others, decided by its user). */
const OPEN = "__open";
const COMPONENT_REF = /^#\/components\/schemas\/(.+)$/;

type Schema = Record<string, unknown>;

function isObjectSchema(schema: Schema): boolean {
  const type = schema.type;
  if (type === "object") return true;
  if (Array.isArray(type) && type.includes("object")) return true;
  return schema.properties !== undefined;
}

/**
 * The checking copy of `schema`: `$ref`s to the document's components point at their
 * registered copies, and every object schema that leaves `additionalProperties` unset is
 * closed. An object combined with `allOf` is closed with `unevaluatedProperties: false` at
 * the combination, whose members are taken open (`open`), so that the keys the members
 * declare together are the keys allowed.
 */
export function strictCopy(schema: unknown, open = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => strictCopy(s));
  if (schema === null || typeof schema !== "object") return schema;
  const source = schema as Schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(source)) {
    switch (key) {
      case "$ref": {
        const name = COMPONENT_REF.exec(String(value))?.[1];
        out.$ref = name === undefined ? value : `${COMPONENTS_ID}#/$defs/${name}${open ? OPEN : ""}`;
        break;
      }
      case "properties":
      case "patternProperties":
      case "$defs":
        out[key] = Object.fromEntries(
          Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, strictCopy(v)]),
        );
        break;
      case "allOf":
        out[key] = (value as unknown[]).map((s) => strictCopy(s, true));
        break;
      case "anyOf":
      case "oneOf":
        // Each alternative is whole; within an open schema, each is open too.
        out[key] = (value as unknown[]).map((s) => strictCopy(s, open));
        break;
      case "items":
      case "prefixItems":
      case "additionalProperties":
      case "unevaluatedProperties":
      case "propertyNames":
      case "not":
      case "if":
      case "then":
      case "else":
      case "contains":
        out[key] = strictCopy(value);
        break;
      default:
        out[key] = value;
    }
  }
  const unset = source.additionalProperties === undefined && source.unevaluatedProperties === undefined;
  if (!open && unset) {
    if (
      source.allOf !== undefined ||
      ((source.anyOf ?? source.oneOf) !== undefined && isObjectSchema(source))
    )
      out.unevaluatedProperties = false;
    else if (isObjectSchema(source)) out.additionalProperties = false;
  }
  return out;
}

/** An operation's path template as a pattern over request paths, with how many literal segments it has. */
interface Template {
  readonly method: string;
  readonly path: string;
  readonly pattern: RegExp;
  readonly literals: number;
  readonly op: OpenApiOperation;
}

function templatesOf(doc: OpenApiDocument): Template[] {
  return operationsOf(doc)
    .map(({ method, path, op }) => {
      const segments = path.split("/");
      const pattern = new RegExp(
        `^${segments.map((s) => (/^\{[^}]+\}$/.test(s) ? "[^/]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/")}$`,
      );
      return { method, path, pattern, literals: segments.filter((s) => !s.startsWith("{")).length, op };
    })
    .sort((a, b) => b.literals - a.literals);
}

/** `~` and `/` escaped for a JSON pointer segment. */
function pointerSegment(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The value at `pointer` in `body`, for a message. */
function valueAt(body: unknown, pointer: string): unknown {
  let current = body;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return "undefined";
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An ajv error as a pointer and a sentence. */
function describeError(error: ErrorObject, body: unknown): { pointer: string; message: string } {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "additionalProperties" || error.keyword === "unevaluatedProperties") {
    const key = String(params.additionalProperty ?? params.unevaluatedProperty);
    const pointer = `${error.instancePath}/${pointerSegment(key)}`;
    return {
      pointer,
      message: `property "${key}" is sent but not declared (value ${shown(valueAt(body, pointer))})`,
    };
  }
  const sent = shown(valueAt(body, error.instancePath));
  const allowed = error.keyword === "enum" ? ` ${shown(params.allowedValues)}` : "";
  return {
    pointer: error.instancePath,
    message: `${error.message ?? error.keyword}${allowed} (sent ${sent}; schema ${error.schemaPath})`,
  };
}

const JSON_MEDIA = /^application\/(?:[\w.+-]+\+)?json$/;

/** A checker for `doc`: the operations' response schemas are compiled on first use, once each. */
export function conformanceChecker(doc: OpenApiDocument): ConformanceChecker {
  // Components compiled once each, as functions the response schemas call (not inlined in each).
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true, inlineRefs: false });
  addFormats.default(ajv);
  const defs: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    defs[name] = strictCopy(schema);
    defs[`${name}${OPEN}`] = strictCopy(schema, true);
  }
  ajv.addSchema({ $id: COMPONENTS_ID, $defs: defs });
  const templates = templatesOf(doc);
  // By operation, status and media type, and by the schema itself: the problem responses of
  // every operation (a `$ref` to Problem) share one validator.
  const byResponse = new Map<string, ValidateFunction>();
  const bySchema = new Map<string, ValidateFunction>();
  const validatorFor = (key: string, schema: JsonSchema): ValidateFunction => {
    let validate = byResponse.get(key);
    if (validate === undefined) {
      const text = JSON.stringify(schema);
      validate = bySchema.get(text) ?? ajv.compile(strictCopy(schema) as Schema);
      bySchema.set(text, validate);
      byResponse.set(key, validate);
    }
    return validate;
  };

  return {
    check(response) {
      const method = response.method.toUpperCase();
      const template = templates.find((t) => t.method === method && t.pattern.test(response.path));
      // A path or a method the document does not describe has no operation to answer for.
      if (template === undefined) return [];
      const operation = `${template.method} ${template.path}`;
      const status = response.status;
      const violation = (pointer: string, message: string): Violation => ({
        request: `${method} ${response.path}`,
        operation,
        status,
        pointer,
        message,
      });
      const responses = template.op.responses;
      const statusKey = [String(status), `${String(status)[0]}XX`, "default"].find((k) => k in responses);
      if (statusKey === undefined)
        return [
          violation(
            "",
            `status ${status} is not documented (documented: ${Object.keys(responses).join(", ")})`,
          ),
        ];
      const documented = responses[statusKey]?.content ?? {};
      const mediaTypes = Object.keys(documented);
      if (response.body === "") {
        if (mediaTypes.length === 0 || status === 204 || status === 304 || method === "HEAD") return [];
        return [violation("", `no body is sent, but ${mediaTypes.join(", ")} is documented`)];
      }
      const mediaType = (response.contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
      if (mediaTypes.length === 0)
        return [violation("", `a body (${mediaType || "no content type"}) is sent, but none is documented`)];
      const media = documented[mediaType];
      if (media === undefined)
        return [
          violation(
            "",
            `content type "${mediaType}" is not documented (documented: ${mediaTypes.join(", ")})`,
          ),
        ];
      if (!JSON_MEDIA.test(mediaType) || media.schema === undefined) return [];
      let body: unknown;
      try {
        body = JSON.parse(response.body);
      } catch {
        return [violation("", `the ${mediaType} body is not JSON`)];
      }
      const validate = validatorFor(`${operation} ${statusKey} ${mediaType}`, media.schema);
      if (validate(body)) {
        if (mediaType !== PROBLEM_CONTENT_TYPE) return [];
        const codes = responses[statusKey]?.[PROBLEM_CODES];
        if (codes === undefined)
          return [violation("", `the problem response ${statusKey} lists no codes (${PROBLEM_CODES})`)];
        const code = (body as { readonly code?: unknown }).code;
        if (typeof code === "string" && (codes.includes(code) || codes.includes(PROVIDER_CODE))) return [];
        return [
          violation(
            "/code",
            `code ${shown(code)} is not one the document lists for ${statusKey} (${PROBLEM_CODES}: ${codes.join(", ")})`,
          ),
        ];
      }
      const seen = new Set<string>();
      const out: Violation[] = [];
      for (const error of validate.errors ?? []) {
        const { pointer, message } = describeError(error, body);
        const key = `${pointer} ${message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(violation(pointer, message));
      }
      return out;
    },
  };
}

/** What the check reads of an app: its route table, its document and its `fetch`. */
interface CheckableApp {
  readonly routes: readonly { readonly method: string; readonly path: string }[];
  fetch: (request: Request, ...rest: never[]) => Response | Promise<Response>;
}

/** One checker per route table: apps with the same routes serve the same document. */
const checkers = new Map<string, ConformanceChecker>();
/** Each app's checker, with the number of routes it had (a route added since makes a new one). */
const appCheckers = new WeakMap<object, { readonly routes: number; readonly checker: ConformanceChecker }>();

function checkerOf(app: CheckableApp & Parameters<typeof openApiDocumentOf>[0]): ConformanceChecker {
  const known = appCheckers.get(app);
  if (known !== undefined && known.routes === app.routes.length) return known.checker;
  const key = app.routes.map((r) => `${r.method} ${r.path}`).join("\n");
  let checker = checkers.get(key);
  if (checker === undefined) {
    checker = conformanceChecker(openApiDocumentOf(app) as unknown as OpenApiDocument);
    checkers.set(key, checker);
  }
  appCheckers.set(app, { routes: app.routes.length, checker });
  return checker;
}

/** The violations as one message: each with its request, operation, status and pointer. */
export function violationMessage(violations: readonly Violation[]): string {
  const lines = violations.map(
    (v) => `  ${v.request} (${v.operation}) answered ${v.status}: at "${v.pointer}": ${v.message}`,
  );
  return `the response does not match the OpenAPI document:\n${lines.join("\n")}`;
}

/** Thrown by a checked app's `fetch` when a response does not match the document. */
export class OpenApiViolation extends Error {
  constructor(readonly violations: readonly Violation[]) {
    super(violationMessage(violations));
    this.name = "OpenApiViolation";
  }
}

/**
 * `app` with its `fetch` (which `app.request` calls) checking every response under /v1
 * against the app's own OpenAPI document: a response that does not match throws
 * {@link OpenApiViolation}, failing the test that made the request.
 */
export function checkedAgainstDocument<A extends CheckableApp & Parameters<typeof openApiDocumentOf>[0]>(
  app: A,
): A {
  const unchecked = app.fetch;
  app.fetch = async (request: Request, ...rest: never[]) => {
    const method = request.method;
    const response = await unchecked(request, ...rest);
    const path = new URL(request.url).pathname;
    if (!path.startsWith("/v1/")) return response;
    const violations = checkerOf(app).check({
      method,
      path,
      status: response.status,
      contentType: response.headers.get("content-type"),
      body: response.body === null ? "" : await response.clone().text(),
    });
    if (violations.length > 0) throw new OpenApiViolation(violations);
    return response;
  };
  return app;
}
