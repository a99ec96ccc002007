// The API's surface as the cross-route tests see it: the routes registered on the app and
// the operations of its OpenAPI document, so that the OpenAPI, fuzz and authorisation tests
// cover every route, including ones added after they were written, with no edits.

import type { PrismaClient } from "@susu/adapters";

/** The routes under /v1 that need no token (the API's own description). */
export const PUBLIC_V1_PATHS: readonly string[] = ["/v1/openapi.json"];

/** An HTTP method as the OpenAPI document spells it. */
export type OpenApiMethod = "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace";
const OPENAPI_METHODS: readonly OpenApiMethod[] = [
  "get",
  "put",
  "post",
  "delete",
  "patch",
  "head",
  "options",
  "trace",
];

/** The parts of an OpenAPI 3.1 document these tests read. */
export interface OpenApiDocument {
  readonly openapi: string;
  readonly paths: Readonly<Record<string, Readonly<Partial<Record<OpenApiMethod, OpenApiOperation>>>>>;
  readonly components?: {
    readonly schemas?: Readonly<Record<string, JsonSchema>>;
    readonly securitySchemes?: Readonly<Record<string, { readonly type: string; readonly scheme?: string }>>;
  };
}

/** A JSON Schema as the document holds it (only the keywords the tests read). */
export interface JsonSchema {
  readonly $ref?: string;
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly example?: unknown;
  readonly examples?: readonly unknown[];
  readonly default?: unknown;
  readonly format?: string;
  readonly minimum?: number;
  readonly minLength?: number;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly allOf?: readonly JsonSchema[];
}

/** A media type entry of a request or response body. */
export interface MediaType {
  readonly schema?: JsonSchema;
  readonly example?: unknown;
  readonly examples?: Readonly<Record<string, { readonly value?: unknown }>>;
}

/** One operation of the document. */
export interface OpenApiOperation {
  readonly operationId?: string;
  readonly summary?: string;
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[];
  readonly parameters?: readonly {
    readonly name: string;
    readonly in: string;
    readonly required?: boolean;
    readonly schema?: JsonSchema;
  }[];
  readonly requestBody?: {
    readonly required?: boolean;
    readonly content: Readonly<Record<string, MediaType>>;
  };
  readonly responses: Readonly<
    Record<
      string,
      {
        readonly description?: string;
        readonly content?: Readonly<Record<string, MediaType>>;
        readonly headers?: Readonly<Record<string, unknown>>;
        /** A problem response's codes (problem-response.ts's `PROBLEM_CODES`). */
        readonly "x-problem-codes"?: readonly string[];
      }
    >
  >;
}

/** An operation with its method and path: `GET /v1/groups/{groupId}`. */
export interface Operation {
  readonly method: Uppercase<OpenApiMethod>;
  readonly path: string;
  /** `METHOD path`, the key of the authorisation table. */
  readonly key: string;
  readonly op: OpenApiOperation;
}

/** Every operation of the document, in its order. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of OPENAPI_METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const upper = method.toUpperCase() as Uppercase<OpenApiMethod>;
      out.push({ method: upper, path, key: `${upper} ${path}`, op });
    }
  }
  return out;
}

/** A route as Hono lists it in `app.routes`. */
export interface RouteEntry {
  readonly method: string;
  readonly path: string;
}

/** `/v1/groups/:groupId` (Hono, maybe with a `{regex}`) → `/v1/groups/{groupId}` (OpenAPI). */
export function openApiPathOf(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");
}

/**
 * The handlers registered under /v1 as `METHOD /v1/path{param}` keys, without middlewares
 * (`ALL` entries and `*` paths) and the public document itself; sorted, one per route.
 */
export function registeredV1Routes(routes: readonly RouteEntry[]): string[] {
  const keys = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    if (!route.path.startsWith("/v1/")) continue;
    if (PUBLIC_V1_PATHS.includes(route.path)) continue;
    keys.add(`${route.method.toUpperCase()} ${openApiPathOf(route.path)}`);
  }
  return [...keys].sort();
}

/** `/v1/groups/{groupId}` with `{groupId}` replaced by `params.groupId` (URL-encoded). */
export function fillPath(path: string, params: (name: string) => string): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(params(name)));
}

/** The path parameters' names of an OpenAPI path. */
export function pathParamsOf(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
}

/** Follows a `#/components/schemas/…` reference. */
export function deref(doc: OpenApiDocument, schema: JsonSchema | undefined): JsonSchema | undefined {
  let current = schema;
  for (let hops = 0; current?.$ref !== undefined && hops < 20; hops++) {
    const name = current.$ref.replace("#/components/schemas/", "");
    current = doc.components?.schemas?.[name];
  }
  return current;
}

/**
 * A request body for `op` built from the document alone: the media type's example, else an
 * object of its properties' examples (or defaults, first enum values, or a plausible value
 * for their type). Undefined when the operation takes no body.
 */
export function exampleBodyOf(doc: OpenApiDocument, op: OpenApiOperation): unknown {
  const media = op.requestBody?.content["application/json"];
  if (media === undefined) return undefined;
  if (media.example !== undefined) return media.example;
  const first = Object.values(media.examples ?? {})[0];
  if (first?.value !== undefined) return first.value;
  return exampleOf(doc, media.schema, 0);
}

function exampleOf(doc: OpenApiDocument, raw: JsonSchema | undefined, depth: number): unknown {
  const schema = deref(doc, raw);
  if (schema === undefined || depth > 8) return undefined;
  if (schema.example !== undefined) return schema.example;
  if (schema.examples?.[0] !== undefined) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.enum?.[0] !== undefined) return schema.enum[0];
  const alternative = schema.anyOf?.[0] ?? schema.oneOf?.[0] ?? schema.allOf?.[0];
  if (alternative !== undefined) return exampleOf(doc, alternative, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (!(schema.required ?? []).includes(name)) continue;
        out[name] = exampleOf(doc, property, depth + 1);
      }
      return out;
    }
    case "array":
      return [];
    case "string":
      if (schema.format === "date-time") return "2030-01-03T09:00:00Z";
      if (schema.format === "uri") return "https://app.example/return";
      if (schema.format === "email") return "ana@example.com";
      return "x".repeat(Math.max(1, schema.minLength ?? 1));
    case "integer":
    case "number":
      return Math.max(1, schema.minimum ?? 1);
    case "boolean":
      return true;
    default:
      return {};
  }
}

/**
 * The domain's tables, counted by {@link countDomainRows}: what a refused request must
 * leave as it was. (Idempotency keys and rate-limit windows are the edge's own records.)
 */
export const DOMAIN_TABLES = [
  "people",
  "groups",
  "members",
  "rounds",
  "held_payments",
  "marketplace_charges",
  "marketplace_charge_sellers",
  "payouts",
  "payout_requests",
  "payout_pauses",
  "saved_payment_methods",
  "contributions",
  "contribution_attempts",
  "payout_transfers",
  "refunds",
  "outbox_effects",
  "ledger_transactions",
  "ledger_postings",
  "audit_log",
  "support_tickets",
  "webhook_events",
  "stripe_balance_transactions",
  "reconciliation_reports",
  "plans",
  "plan_prices",
  "subscriptions",
] as const;

/** Row counts of {@link DOMAIN_TABLES}, in one query. */
export async function countDomainRows(prisma: PrismaClient): Promise<Record<string, number>> {
  const columns = DOMAIN_TABLES.map((t) => `(SELECT count(*) FROM "${t}")::int AS "${t}"`).join(", ");
  const rows = await prisma.$queryRawUnsafe<Record<string, number>[]>(`SELECT ${columns}`);
  return { ...(rows[0] ?? {}) };
}
