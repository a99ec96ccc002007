import { createRoute, z } from "@hono/zod-openapi";
import {
  type EndpointAddressPolicy,
  endpointUrlProblem,
  maskEmail,
  type NotificationDeliveryLog,
  type NotificationDeliveryRecord,
  type NotificationEndpointRecord,
  type NotificationEndpointStore,
  type NotificationSettings,
  type NotificationSettingsStore,
} from "@susu/adapters";
import {
  type Clock,
  NOTIFICATION_CLASSES,
  PERSON_NOTIFICATION_TEMPLATES,
  parseNotificationPreferences,
} from "@susu/domain";
import type { Context } from "hono";
import type { Principal } from "../http/auth.js";
import { jsonBodyAsSent, NUL_FREE } from "../input.js";
import { problem, useCaseProblem } from "../problem.js";
import {
  PERSON_ONLY_DETAIL,
  personInPath,
  refusePerson,
  refusePersonOnly,
  refuseUnlessOperator,
} from "./authz.js";
import { type V1Env, v1Router } from "./context.js";
import { PageQuerySchema, pageSchema } from "./pagination.js";
import {
  commonResponses,
  forbiddenResponse,
  IdSchema,
  json,
  notFoundResponse,
  PersonIdParam,
  postResponses,
  problemExamples,
} from "./schemas.js";

// Notifications people receive, and the webhook channel of client apps:
//
// - `/v1/people/{personId}/notification-settings` (`me`: the caller): a person's address,
//   locale, time zone and which optional messages reach them on which channel. The person
//   and platform operators read them; the person and platform admins replace them (a
//   service token may not redirect someone's mail: 403 `admin_only`). Required messages
//   (about their money) cannot be switched off: trying is 400 `notification_required`. The
//   platform admins' own notices (class `admin`) are not listed; setting one is 400
//   `notification_admin_only`.
// - `/v1/notification-endpoints`: client apps' webhook endpoints that push to phones. Platform
//   operators list them and read their delivery logs; platform admins (role `admin`, not a
//   service token: 403 `admin_only`) create, disable and rotate them — the signing secret
//   is answered once, at creation and at rotation. A URL into the platform's own networks
//   (loopback, private, link-local such as the cloud metadata service, CGNAT, `localhost`),
//   with credentials, or plain http is 400 `endpoint_url_not_allowed`, unless
//   SUSU_NOTIFY_ENDPOINT_ADDRESSES is `any` (development, tests; credentials never); the
//   scheduler checks every address the host resolves to before each send as well.
// - `/v1/operations/notification-deliveries`: every delivery (e-mail and webhook), newest
//   first, by status (`?status=failed`), for operators. A service token sees e-mail
//   recipients masked (`a***@example.com`); platform admins see them whole.

/** The ports behind these routes, built in the composition root. */
export interface NotificationPorts {
  readonly settings: NotificationSettingsStore;
  readonly endpoints: NotificationEndpointStore;
  readonly deliveries: NotificationDeliveryLog;
  /**
   * Which endpoint URLs creating takes (SUSU_NOTIFY_ENDPOINT_ADDRESSES; default `public`:
   * https, no credentials, no loopback, private, link-local… address; see endpoint-address.ts).
   */
  readonly endpointAddresses?: EndpointAddressPolicy;
}

/** What the notification routes need: the ports and the clock that stamps changes. */
export interface NotificationDeps extends NotificationPorts {
  readonly clock: Clock;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

// ─── Settings ──────────────────────────────────────────────────────────────

const TemplateSettingSchema = z.object({
  required: z.boolean().openapi({ description: "About the person's money: always sent, on every channel" }),
  enabled: z.boolean(),
});

const SettingsSchema = z
  .object({
    object: z.literal("notification_settings"),
    personId: z.string(),
    email: z.string().nullable(),
    emailStatus: z.enum(["none", "ok", "bouncing"]).openapi({
      description:
        "`bouncing`: the mail server refused the address for good; nothing is e-mailed until an address is saved (the same one again too)",
    }),
    emailBouncedAt: z.string().nullable(),
    emailBounceReason: z.string().nullable(),
    locale: z.string().nullable().openapi({ description: "BCP 47; null: the platform's", example: "en-AU" }),
    timeZone: z
      .string()
      .nullable()
      .openapi({ description: "IANA; null: the platform's", example: "Australia/Sydney" }),
    channels: z
      .object({ email: z.boolean(), push: z.boolean() })
      .openapi({ description: "The channels of optional messages (required ones use every channel)" }),
    notifications: z.record(z.string(), TemplateSettingSchema).openapi({
      description:
        "Every message a person can receive, by template name. The platform admins' own notices (`refund_owed`, `reversal_failed`, `transfer_blocked`, `reconciliation_differences`) are never sent to a person and are not listed.",
    }),
  })
  .openapi("NotificationSettings");

const PutSettingsSchema = z
  .object({
    email: z
      .string()
      .max(320)
      .refine(NUL_FREE, "no NUL characters")
      .nullable()
      .optional()
      .openapi({ description: "null or absent: no e-mails", example: "ana@example.com" }),
    locale: z
      .string()
      .max(64)
      .refine(NUL_FREE, "no NUL characters")
      .nullable()
      .optional()
      .openapi({ example: "en-AU" }),
    timeZone: z
      .string()
      .max(64)
      .refine(NUL_FREE, "no NUL characters")
      .nullable()
      .optional()
      .openapi({ example: "Australia/Sydney" }),
    channels: z
      .object({ email: z.boolean().optional(), push: z.boolean().optional() })
      .strict()
      .optional()
      .openapi({ description: "The channels of optional messages; absent: both" }),
    notifications: z
      .record(z.string().max(64), z.boolean())
      .refine((r) => Object.keys(r).length <= 100, "at most 100 entries")
      .optional()
      .openapi({
        description:
          "Template name → on or off; names left out are on. Required ones cannot be off (400 `notification_required`); the platform admins' own notices are no person's to set (400 `notification_admin_only`).",
        example: { checkout_expired: false },
      }),
  })
  .strict()
  .openapi("NotificationSettingsUpdate");

/**
 * The notification names of a settings body as the client sent them. zod's record leaves a
 * `__proto__` key out of what it returns (so that it cannot set the result's prototype),
 * while JSON.parse keeps it as an own key: taken from the body as parsed, it reaches the
 * domain, which refuses it (400 `unknown_notification`) as it refuses `constructor` or any
 * name it does not know, instead of the request passing without it.
 */
function notificationsAsSent(
  validated: Readonly<Record<string, boolean>> | undefined,
  body: unknown,
): Readonly<Record<string, boolean>> | undefined {
  const sent = (body as { notifications?: unknown } | null)?.notifications;
  if (
    validated === undefined ||
    typeof sent !== "object" ||
    sent === null ||
    !Object.hasOwn(sent, "__proto__")
  )
    return validated;
  // Object.fromEntries defines each key as an own property, `__proto__` included.
  return Object.fromEntries(
    Object.keys(sent).map((name) => [
      name,
      Object.hasOwn(validated, name) ? validated[name] === true : false,
    ]),
  );
}

function settingsView(s: NotificationSettings) {
  return {
    object: "notification_settings" as const,
    personId: s.personId,
    email: s.email ?? null,
    emailStatus: s.emailStatus,
    emailBouncedAt: iso(s.emailBounce?.at),
    emailBounceReason: s.emailBounce?.reason ?? null,
    locale: s.locale ?? null,
    timeZone: s.timeZone ?? null,
    channels: { ...s.channels },
    notifications: Object.fromEntries(
      PERSON_NOTIFICATION_TEMPLATES.map((t) => [
        t,
        { required: NOTIFICATION_CLASSES[t] === "required", enabled: !s.muted.includes(t) },
      ]),
    ),
  };
}

const personNotFound = notFoundResponse(["person_not_found"]);

const getSettingsRoute = createRoute({
  method: "get",
  path: "/people/{personId}/notification-settings",
  tags: ["notifications"],
  summary:
    "A person's contact and notification preferences (the person, platform operators; `me` for a service token: 403 `person_only`)",
  security: [{ bearer: [] }],
  request: { params: PersonIdParam },
  responses: {
    200: json(SettingsSchema, "The settings"),
    ...commonResponses,
    ...forbiddenResponse(["person_only"]),
    ...personNotFound,
  },
});

const putSettingsRoute = createRoute({
  method: "put",
  path: "/people/{personId}/notification-settings",
  tags: ["notifications"],
  summary:
    "Replace a person's contact and notification preferences (the person, platform admins; a service token: 403 `admin_only`, or `person_only` for itself: `me` or its own subject). Saving an address clears its bounce, the same address again too (it works now).",
  security: [{ bearer: [] }],
  request: {
    params: PersonIdParam,
    body: { content: { "application/json": { schema: PutSettingsSchema } }, required: true },
  },
  responses: {
    200: json(SettingsSchema, "The settings as stored"),
    ...commonResponses,
    ...problemExamples(400, "The settings are refused (or the request does not match the schema).", {
      invalid_email: "email is not an e-mail address (name@example.com)",
      unknown_locale: 'unknown locale "xx-YY" (e.g. en-AU)',
      unknown_time_zone: 'unknown time zone "Mars/Base" (an IANA name, e.g. Australia/Sydney)',
      unknown_notification: "there is no notification no_such_message",
      notification_required: "payout_failed is about your money and cannot be switched off",
      notification_admin_only: "refund_owed is sent to the platform's admins only, not to people",
      invalid_request: "the request does not match the schema",
    }),
    ...forbiddenResponse(["admin_only", "person_only"]),
    ...personNotFound,
  },
});

// ─── Webhook endpoints ─────────────────────────────────────────────────────

const EndpointIdParam = z.object({
  endpointId: IdSchema.openapi({
    param: { name: "endpointId", in: "path" },
    example: "ne_0123456789abcdef01234567",
  }),
});

const EndpointSchema = z
  .object({
    object: z.literal("notification_endpoint"),
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    status: z.enum(["enabled", "disabled"]),
    createdAt: z.string(),
    disabledAt: z.string().nullable(),
    disabledReason: z.enum(["admin", "failing"]).nullable().openapi({
      description:
        "Why it is disabled: by an admin, or on its own after failing every send for SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS (72 by default); null while enabled",
    }),
    failingSince: z.string().nullable().openapi({
      description:
        "Since when every send to it has failed (a send it accepts clears it); null while it answers",
    }),
    secretRotatedAt: z.string().nullable(),
    previousSecretExpiresAt: z
      .string()
      .nullable()
      .openapi({ description: "Until when the secret before the last rotation still signs requests too" }),
  })
  .openapi("NotificationEndpoint");

const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().openapi({
    description:
      "The key of `Susu-Signature` (HMAC-SHA256); shown only now: keep it in the client app's secret store",
    example: "whsec_…",
  }),
}).openapi("NotificationEndpointWithSecret");

const CreateEndpointSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .openapi({ example: "https://push.app.example/susu" }),
    description: z.string().trim().min(1).max(200).refine(NUL_FREE, "no NUL characters").optional(),
  })
  .strict()
  .openapi("NotificationEndpointCreate");

/** How long the old secret keeps signing after a rotation, by default (a day, as Stripe's roll). */
const DEFAULT_PREVIOUS_SECRET_SECONDS = 86_400;

const RotateSecretSchema = z
  .object({
    previousSecretExpiresInSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .optional()
      .openapi({
        description:
          "How long the old secret keeps signing requests beside the new one (default 86400; 0 when it leaked: at once)",
        example: 86_400,
      }),
  })
  .strict()
  .openapi("NotificationEndpointRotateSecret");

function endpointView(e: NotificationEndpointRecord) {
  return {
    object: "notification_endpoint" as const,
    id: e.id,
    url: e.url,
    description: e.description ?? null,
    status: e.status,
    createdAt: new Date(e.createdAt).toISOString(),
    disabledAt: iso(e.disabledAt),
    disabledReason: e.disabledReason ?? null,
    failingSince: iso(e.failingSince),
    secretRotatedAt: iso(e.rotatedAt),
    previousSecretExpiresAt: iso(e.previousSecretExpiresAt),
  };
}

const DeliverySchema = z
  .object({
    object: z.literal("notification_delivery"),
    id: z.string().openapi({
      description:
        "Also a webhook's `Susu-Delivery-Id` header and its body's `deliveryId`: what a client app deduplicates on",
    }),
    notificationId: z.string(),
    template: z.string(),
    channel: z.enum(["email", "webhook"]),
    recipient: z.string().openapi({
      description:
        "The e-mail address (masked for a service token: `a***@example.com`), or the endpoint's id",
    }),
    personId: z
      .string()
      .nullable()
      .openapi({ description: "null: an address that is no person's, or the admins" }),
    status: z.enum(["queued", "sent", "retrying", "failed", "bounced", "withdrawn"]),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    lastStatusCode: z.number().int().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    nextAttemptAt: z.string().nullable(),
    sentAt: z.string().nullable(),
  })
  .openapi("NotificationDelivery");

/**
 * A delivery as answered; `maskRecipient` (a service token asking) keeps only the first
 * letter and the domain of an e-mail address.
 */
function deliveryView(d: NotificationDeliveryRecord, maskRecipient: boolean) {
  return {
    object: "notification_delivery" as const,
    id: d.id,
    notificationId: d.notificationId,
    template: d.template,
    channel: d.channel,
    recipient: maskRecipient && d.channel === "email" ? maskEmail(d.recipient) : d.recipient,
    personId: d.personId ?? null,
    status: d.status,
    attempts: d.attempts,
    lastError: d.lastError ?? null,
    lastStatusCode: d.lastStatusCode ?? null,
    createdAt: new Date(d.createdAt).toISOString(),
    updatedAt: new Date(d.updatedAt).toISOString(),
    nextAttemptAt: iso(d.nextAttemptAt),
    sentAt: iso(d.sentAt),
  };
}

const DeliveryQuerySchema = PageQuerySchema.extend({
  starting_after: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    .optional()
    .openapi({ description: "The id of the last delivery of the previous page" }),
  status: z.enum(["queued", "sent", "retrying", "failed", "bounced", "withdrawn"]).optional(),
});

const EndpointPageQuery = PageQuerySchema.extend({
  starting_after: IdSchema.optional().openapi({
    description: "The id of the last endpoint of the previous page",
  }),
});

const operatorOnly = forbiddenResponse(["operator_only"]);
const adminOnly = forbiddenResponse(["operator_only", "admin_only"]);
const endpointNotFound = notFoundResponse(["notification_endpoint_not_found"]);

const listEndpointsRoute = createRoute({
  method: "get",
  path: "/notification-endpoints",
  tags: ["notifications"],
  summary: "Client apps' webhook endpoints, oldest first (platform operators)",
  security: [{ bearer: [] }],
  request: { query: EndpointPageQuery },
  responses: {
    200: json(pageSchema(EndpointSchema, "NotificationEndpointList"), "A page of endpoints"),
    ...commonResponses,
    ...operatorOnly,
  },
});

const createEndpointRoute = createRoute({
  method: "post",
  path: "/notification-endpoints",
  tags: ["notifications"],
  summary:
    "Register a client app's webhook endpoint (platform admins). Every notification for a person, and every admin alert, is POSTed to it signed with `Susu-Signature`; the secret is in this answer only. The body is `{ object: \"notification\", id, deliveryId, template, personId, role?, aggregate, data, created }`: `deliveryId` (also the `Susu-Delivery-Id` header) is the delivery's, the same in every resend of it — deduplicate on it; `id` is the notification's, the same in every person's delivery of one notice. The URL must be https, without credentials, and not on the platform's own networks (loopback, private, link-local, CGNAT, `localhost`): else 400 `endpoint_url_not_allowed` (SUSU_NOTIFY_ENDPOINT_ADDRESSES=any takes http and private addresses, for development).",
  security: [{ bearer: [] }],
  request: { body: { content: { "application/json": { schema: CreateEndpointSchema } }, required: true } },
  responses: {
    201: json(EndpointWithSecretSchema, "The endpoint, with its secret"),
    ...postResponses,
    ...problemExamples(400, "The URL is refused (or the request does not match the schema).", {
      endpoint_url_not_allowed:
        "169.254.169.254 is a link-local address: endpoints must be on public addresses",
      invalid_request: "the request does not match the schema",
    }),
    ...adminOnly,
  },
});

const disableEndpointRoute = createRoute({
  method: "post",
  path: "/notification-endpoints/{endpointId}/disable",
  tags: ["notifications"],
  summary:
    "Stop sending to an endpoint (platform admins); its queued deliveries fail. Disabling again changes nothing.",
  security: [{ bearer: [] }],
  request: { params: EndpointIdParam },
  responses: {
    200: json(EndpointSchema, "The endpoint, disabled"),
    ...postResponses,
    ...adminOnly,
    ...endpointNotFound,
  },
});

const enableEndpointRoute = createRoute({
  method: "post",
  path: "/notification-endpoints/{endpointId}/enable",
  tags: ["notifications"],
  summary:
    "Send to an endpoint again (platform admins), from the next notification: one an admin disabled, or one disabled on its own after failing every send for SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS. Deliveries that failed meanwhile are not sent again; its failures so far are forgotten. Enabling again changes nothing.",
  security: [{ bearer: [] }],
  request: { params: EndpointIdParam },
  responses: {
    200: json(EndpointSchema, "The endpoint, enabled"),
    ...postResponses,
    ...adminOnly,
    ...endpointNotFound,
  },
});

const rotateEndpointRoute = createRoute({
  method: "post",
  path: "/notification-endpoints/{endpointId}/rotate-secret",
  tags: ["notifications"],
  summary:
    "Replace an endpoint's signing secret (platform admins); the new secret is in this answer only. The old one keeps signing requests beside it (two `v1` in `Susu-Signature`) for `previousSecretExpiresInSeconds` (default a day; 0: not at all). Repeat with the same Idempotency-Key to get the same answer again.",
  security: [{ bearer: [] }],
  request: {
    params: EndpointIdParam,
    body: { content: { "application/json": { schema: RotateSecretSchema } }, required: false },
  },
  responses: {
    200: json(EndpointWithSecretSchema, "The endpoint, with its new secret"),
    ...postResponses,
    ...adminOnly,
    ...endpointNotFound,
  },
});

const endpointDeliveriesRoute = createRoute({
  method: "get",
  path: "/notification-endpoints/{endpointId}/deliveries",
  tags: ["notifications"],
  summary: "An endpoint's delivery log, newest first (platform operators)",
  security: [{ bearer: [] }],
  request: { params: EndpointIdParam, query: DeliveryQuerySchema },
  responses: {
    200: json(pageSchema(DeliverySchema, "NotificationDeliveryList"), "A page of deliveries"),
    ...commonResponses,
    ...operatorOnly,
    ...endpointNotFound,
  },
});

const allDeliveriesRoute = createRoute({
  method: "get",
  path: "/operations/notification-deliveries",
  tags: ["operations"],
  summary:
    "Every notification delivery (e-mail and webhook), newest first, e.g. `?status=failed` (platform operators)",
  security: [{ bearer: [] }],
  request: { query: DeliveryQuerySchema },
  responses: {
    200: json(pageSchema(DeliverySchema, "NotificationDeliveryList"), "A page of deliveries"),
    ...commonResponses,
    ...operatorOnly,
  },
});

/** Whether the caller sees delivery recipients masked: operators who are not platform admins. */
const masksRecipients = (principal: Principal) => !principal.roles.includes("admin");

/**
 * Who may replace a person's settings: the person, and platform admins. Others who may not
 * see the person get 404; a service token (an operator, not an admin) 403 `admin_only`, and
 * for its own subject (no person's) 403 `person_only`.
 */
function refuseSettingsChange(c: Context, principal: Principal, personId: string): Response | undefined {
  const refused = refusePerson(c, principal, personId);
  if (refused !== undefined) return refused;
  if (principal.subject === personId) return refusePersonOnly(c, principal, PERSON_ONLY_DETAIL.self);
  if (principal.roles.includes("admin")) return undefined;
  return problem(
    c,
    403,
    "admin_only",
    "only the person or a platform admin may change notification settings",
  );
}

/** A platform admin (role `admin`): operators who are service tokens get 403 `admin_only`. */
function refuseUnlessAdmin(c: Context, principal: Principal): Response | undefined {
  const refused = refuseUnlessOperator(c, principal);
  if (refused !== undefined) return refused;
  if (principal.roles.includes("admin")) return undefined;
  return problem(c, 403, "admin_only", "only platform admins may manage notification endpoints");
}

/** `/v1/people/{personId}/notification-settings`, `/v1/notification-endpoints…`, `/v1/operations/notification-deliveries`. */
export function notificationsV1(deps: NotificationDeps) {
  const app = v1Router();
  /** `me` is the caller, as a person (a service token: 403 `person_only`). */
  const personOf = (c: Context<V1Env>, personId: string) => personInPath(c, c.get("principal"), personId);

  app.openapi(getSettingsRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = refusePerson(c, c.get("principal"), personId);
    if (refused) return refused;
    const found = await deps.settings.get(personId);
    if (found.isErr()) return useCaseProblem(c, found.error);
    if (found.value === undefined) return problem(c, 404, "person_not_found", `no person ${personId}`);
    return c.json(settingsView(found.value), 200);
  });

  app.openapi(putSettingsRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = refuseSettingsChange(c, c.get("principal"), personId);
    if (refused) return refused;
    const asked = c.req.valid("json");
    // The schema takes no body as `{}` (which replaces every setting): none is refused here.
    const sent = await jsonBodyAsSent(c);
    if (sent === undefined)
      return problem(
        c,
        400,
        "invalid_request",
        "the request has no body: send the settings as a JSON object",
        {
          errors: [{ path: "body", message: "required: the settings as a JSON object" }],
        },
      );
    const parsed = parseNotificationPreferences({
      ...asked,
      notifications: notificationsAsSent(asked.notifications, sent),
    });
    if (parsed.isErr())
      return problem(c, 400, parsed.error.code, parsed.error.message, {
        errors: [{ path: parsed.error.field, message: parsed.error.message }],
      });
    const stored = await deps.settings.put(personId, parsed.value, deps.clock.now());
    if (stored.isErr()) return useCaseProblem(c, stored.error);
    if (stored.value === undefined) return problem(c, 404, "person_not_found", `no person ${personId}`);
    if (c.get("principal").subject !== personId)
      c.var.log.info(
        { personId, by: c.get("principal").subject },
        "notification settings changed by a platform admin",
      );
    return c.json(settingsView(stored.value), 200);
  });

  app.openapi(listEndpointsRoute, async (c) => {
    const refused = refuseUnlessOperator(c, c.get("principal"));
    if (refused) return refused;
    const query = c.req.valid("query");
    const page = await deps.endpoints.list(query.limit, query.starting_after);
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(
      {
        object: "list" as const,
        url: "/v1/notification-endpoints",
        data: page.value.items.map(endpointView),
        has_more: page.value.hasMore,
      },
      200,
    );
  });

  app.openapi(createEndpointRoute, async (c) => {
    const refused = refuseUnlessAdmin(c, c.get("principal"));
    if (refused) return refused;
    const body = c.req.valid("json");
    const refusal = endpointUrlProblem(body.url, deps.endpointAddresses ?? "public");
    if (refusal !== undefined)
      return problem(c, 400, "endpoint_url_not_allowed", refusal, {
        errors: [{ path: "url", message: refusal }],
      });
    const created = await deps.endpoints.create({
      url: body.url,
      ...(body.description !== undefined ? { description: body.description } : {}),
      at: deps.clock.now(),
    });
    if (created.isErr()) return useCaseProblem(c, created.error);
    c.var.log.info(
      { endpointId: created.value.id, by: c.get("principal").subject },
      "notification endpoint created",
    );
    return c.json({ ...endpointView(created.value), secret: created.value.secret }, 201);
  });

  app.openapi(disableEndpointRoute, async (c) => {
    const refused = refuseUnlessAdmin(c, c.get("principal"));
    if (refused) return refused;
    const { endpointId } = c.req.valid("param");
    const disabled = await deps.endpoints.disable(endpointId, deps.clock.now());
    if (disabled.isErr()) return useCaseProblem(c, disabled.error);
    if (disabled.value === undefined)
      return problem(c, 404, "notification_endpoint_not_found", `no notification endpoint ${endpointId}`);
    c.var.log.info({ endpointId, by: c.get("principal").subject }, "notification endpoint disabled");
    return c.json(endpointView(disabled.value), 200);
  });

  app.openapi(enableEndpointRoute, async (c) => {
    const refused = refuseUnlessAdmin(c, c.get("principal"));
    if (refused) return refused;
    const { endpointId } = c.req.valid("param");
    const enabled = await deps.endpoints.enable(endpointId, deps.clock.now());
    if (enabled.isErr()) return useCaseProblem(c, enabled.error);
    if (enabled.value === undefined)
      return problem(c, 404, "notification_endpoint_not_found", `no notification endpoint ${endpointId}`);
    c.var.log.info({ endpointId, by: c.get("principal").subject }, "notification endpoint enabled");
    return c.json(endpointView(enabled.value), 200);
  });

  app.openapi(rotateEndpointRoute, async (c) => {
    const refused = refuseUnlessAdmin(c, c.get("principal"));
    if (refused) return refused;
    const { endpointId } = c.req.valid("param");
    // The body is optional: none keeps the old secret for the default time.
    const body = (c.req.valid("json") as { previousSecretExpiresInSeconds?: number } | undefined) ?? {};
    const keepSeconds = body.previousSecretExpiresInSeconds ?? DEFAULT_PREVIOUS_SECRET_SECONDS;
    const rotated = await deps.endpoints.rotateSecret(endpointId, deps.clock.now(), keepSeconds * 1000);
    if (rotated.isErr()) return useCaseProblem(c, rotated.error);
    if (rotated.value === undefined)
      return problem(c, 404, "notification_endpoint_not_found", `no notification endpoint ${endpointId}`);
    c.var.log.info({ endpointId, by: c.get("principal").subject }, "notification endpoint secret rotated");
    return c.json({ ...endpointView(rotated.value), secret: rotated.value.secret }, 200);
  });

  app.openapi(endpointDeliveriesRoute, async (c) => {
    const refused = refuseUnlessOperator(c, c.get("principal"));
    if (refused) return refused;
    const { endpointId } = c.req.valid("param");
    const endpoint = await deps.endpoints.get(endpointId);
    if (endpoint.isErr()) return useCaseProblem(c, endpoint.error);
    if (endpoint.value === undefined)
      return problem(c, 404, "notification_endpoint_not_found", `no notification endpoint ${endpointId}`);
    const query = c.req.valid("query");
    const page = await deps.deliveries.listDeliveries({
      endpointId,
      limit: query.limit,
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(
      {
        object: "list" as const,
        url: `/v1/notification-endpoints/${endpointId}/deliveries`,
        data: page.value.items.map((d) => deliveryView(d, masksRecipients(c.get("principal")))),
        has_more: page.value.hasMore,
      },
      200,
    );
  });

  app.openapi(allDeliveriesRoute, async (c) => {
    const refused = refuseUnlessOperator(c, c.get("principal"));
    if (refused) return refused;
    const query = c.req.valid("query");
    const page = await deps.deliveries.listDeliveries({
      limit: query.limit,
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(
      {
        object: "list" as const,
        url: "/v1/operations/notification-deliveries",
        data: page.value.items.map((d) => deliveryView(d, masksRecipients(c.get("principal")))),
        has_more: page.value.hasMore,
      },
      200,
    );
  });

  return app;
}
