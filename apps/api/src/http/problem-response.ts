import { type RouteConfig, z } from "@hono/zod-openapi";

/** The media type of every error response (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

// The same base as apps/api/src/problem.ts, so a code's `type` URL is one address whichever
// module answered.
const PROBLEM_BASE = "https://susu.dev/problems/";

/** What a member may lack to be ready (the domain's `ReadinessGap`; problem.ts ties the two). */
export const READINESS_GAPS = ["mandate", "payout_account"] as const;

/**
 * The problem document the HTTP infrastructure answers with: the shape of
 * `apps/api/src/problem.ts`'s `Problem`, as a zod schema so that routes can describe the
 * middlewares' errors in the OpenAPI document.
 */
export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: `${PROBLEM_BASE}token_expired` }),
    title: z.string().openapi({ example: "token expired" }),
    status: z.number().int().openapi({ example: 401 }),
    code: z
      .string()
      .openapi({ description: "Stable machine-readable error code.", example: "token_expired" }),
    detail: z.string().openapi({ example: "the token expired at 2026-06-01T10:00:00.000Z" }),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: "Every offending field, when the input failed validation." }),
    requestId: z.string().optional().openapi({
      description: "On a 5xx: the id under which the cause is logged, for the client to quote to support.",
      example: "5f0c9a1e-8d1b-4c3e-9a53-2b1f6d7c8e90",
    }),
    notReady: z
      .array(z.object({ memberId: z.string(), lacks: z.array(z.enum(READINESS_GAPS)) }))
      .optional()
      .openapi({
        description:
          "`members_not_ready`: each member who is not ready and what they still have to set up (`mandate`: an active debit mandate; `payout_account`: a payout account that can receive).",
      }),
    groupId: z.string().optional().openapi({
      description: "`payment_method_in_use`: the group whose running round relies on the payment method.",
    }),
  })
  .openapi("Problem");

/** A problem document as sent. */
export type ProblemBody = z.infer<typeof ProblemSchema>;

/** The problem document for `code`; `title` is the code in words, as problem.ts makes it. */
export function problemBody(status: number, code: string, detail: string): ProblemBody {
  return { type: `${PROBLEM_BASE}${code}`, title: code.replaceAll("_", " "), status, code, detail };
}

/**
 * A problem response. Middlewares build the `Response` themselves (rather than through a
 * Context helper) so that the same function serves middlewares, `notFound`, `onError` and
 * hono's own middleware callbacks (body limit), which all have different context types.
 */
export function problemResponse(
  status: number,
  code: string,
  detail: string,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(problemBody(status, code, detail)), {
    status,
    headers: { ...headers, "content-type": PROBLEM_CONTENT_TYPE },
  });
}

/**
 * The OpenAPI extension on a problem response that lists every `code` a client may get with
 * it, for that operation and status: machine-readable (clients switch on the code), where the
 * description's "Codes: …" is for people. The API tests fail a problem whose code the
 * response does not list.
 */
export const PROBLEM_CODES = "x-problem-codes";

/**
 * Listed as a problem response's code when the code is the payment provider's own (a Stripe
 * error code passed through on a 502 or 503): not susu's to enumerate, so any code goes.
 */
export const PROVIDER_CODE = "<the provider's code>";

/** One entry of an OpenAPI route's `responses`, as `@hono/zod-openapi`'s `createRoute` takes it. */
export type ResponseDoc = RouteConfig["responses"][string];

/**
 * Describes a problem response for the OpenAPI document: the codes a client may see with
 * this status, and the response headers that come with it; `schema` when some of its codes
 * say more than {@link ProblemSchema} has.
 */
export function problemDoc(
  description: string,
  codes: readonly string[],
  headers?: Readonly<Record<string, { readonly description: string }>>,
  schema: z.ZodType = ProblemSchema,
): ResponseDoc {
  const headerObjects =
    headers === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(headers).map(([name, h]) => [
            name,
            { description: h.description, schema: { type: "string" as const } },
          ]),
        );
  return {
    description: `${description} Codes: ${codes.map((c) => `\`${c}\``).join(", ")}.`,
    content: { [PROBLEM_CONTENT_TYPE]: { schema } },
    ...(headerObjects === undefined ? {} : { headers: headerObjects }),
    // (the generator copies a response's other keys into the document as they are)
    [PROBLEM_CODES]: [...codes],
  } as ResponseDoc;
}
