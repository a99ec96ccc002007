import { createRoute, z } from "@hono/zod-openapi";
import { json, postResponses, problemExamples } from "./schemas.js";

// What the routes of the payment resources (held payments, marketplace charges) describe
// alike: their JSON bodies, fee terms, refund amount, documented refusals and the shape of
// a command on one resource. Each resource names its own schemas and examples.

/** A JSON request body; `required: false` for a command that may go without one. */
export const body = <T extends z.ZodTypeAny>(schema: T, required = true) => ({
  content: { "application/json": { schema } },
  required,
});

/** The platform's fee a payment is asked for with: a rate or a fixed amount (the component `name`). */
export function feeTermsSchema(name: string, description: string) {
  return z
    .union([
      z.strictObject({
        rateBps: z
          .number()
          .int()
          .min(0)
          .max(9_999)
          .openapi({ description: "A rate in basis points of the amount (250 = 2.5 %)", example: 1_000 }),
      }),
      z.strictObject({
        amountMinor: z
          .number()
          .int()
          .min(0)
          .max(Number.MAX_SAFE_INTEGER)
          .openapi({ description: "A fixed fee in minor units", example: 500 }),
      }),
    ])
    .openapi(name, { description, example: { rateBps: 1_000 } });
}

/** A refund's amount: part of what is left, or everything when absent. */
export const refundAmountSchema = () =>
  z
    .number()
    .int()
    .positive()
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .openapi({ description: "A partial refund; everything left when absent", example: 2500 });

/**
 * The refusals every payment resource documents alike: operators only (403), the
 * resource's state (409, with its version conflict) and unacceptable values (422), each
 * with the Idempotency-Key's own.
 *
 * @param what how the 409 names the resource ("payment", "charge")
 * @param versionConflict the example of the resource's `version_conflict`
 */
export function paymentRefusals(what: string, versionConflict: string) {
  return {
    operatorOnly: problemExamples(403, "Allowed to see, not to do.", {
      operator_only: "only platform operators may do this",
      admin_only:
        "only platform admins may move money on a payment they did not ask for (a service token may not)",
    }),
    conflicts: (details: Readonly<Record<string, string>>) =>
      problemExamples(409, `The ${what}'s state does not allow this now.`, {
        ...details,
        version_conflict: versionConflict,
        idempotency_key_in_use: "a request with this Idempotency-Key is still being processed",
      }),
    unprocessable: (details: Readonly<Record<string, string>>) =>
      problemExamples(422, "The values are well-formed but not acceptable.", {
        ...details,
        idempotency_key_reused: "this Idempotency-Key was used with a different request",
      }),
  };
}

/**
 * The commands on one resource of a collection: `POST <collection>/{<param>}/<action>`,
 * answering the resource (`schema`) as it now stands; each command's `refusals` are its
 * documented refusals beside the common ones and the resource's 404 (`notFound`).
 */
export function commandRoutes<
  C extends string,
  N extends string,
  P extends z.ZodObject,
  S extends z.ZodTypeAny,
  NF extends object,
>(resource: {
  readonly collection: C;
  readonly param: N;
  readonly params: P;
  readonly schema: S;
  readonly tags: string[];
  readonly notFound: NF;
}) {
  return function commandRoute<
    A extends string,
    Extra extends { readonly body?: ReturnType<typeof body> },
    F extends object,
  >(def: {
    readonly action: A;
    readonly summary: string;
    readonly description?: string;
    /** What the request carries beside the resource's id (its body). */
    readonly request?: Extra;
    /** What the 200 answers: the resource, as the command left it. */
    readonly answers: string;
    readonly refusals: F;
  }) {
    return createRoute({
      method: "post",
      path: `${resource.collection}/{${resource.param}}/${def.action}` as const,
      tags: resource.tags,
      summary: def.summary,
      ...(def.description !== undefined ? { description: def.description } : {}),
      security: [{ bearer: [] }],
      request: { params: resource.params, ...((def.request ?? {}) as Extra) },
      responses: {
        200: json(resource.schema, def.answers),
        ...postResponses,
        ...resource.notFound,
        ...def.refusals,
      },
    });
  };
}
