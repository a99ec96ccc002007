import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { renderEvent } from "../core/events.js";
import { newId, randomToken } from "../core/ids.js";
import { invalidParam, resourceMissing } from "../http/errors.js";
import { WEBHOOK_ENDPOINT_CREATE } from "../http/known-params.js";
import {
  applyMetadata,
  matchesRange,
  optBool,
  optNullableString,
  optString,
  optStringArray,
  reqString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import { RawJson, type Router } from "../http/router.js";
import type { EndpointMeta } from "../webhooks/dispatcher.js";

export function newWebhookSecret(): string {
  return `whsec_${randomToken(32)}`;
}

export function createEndpoint(
  engine: Engine,
  input: {
    id?: string;
    url: string;
    enabledEvents: string[];
    description: string | null;
    metadata: Record<string, string>;
    apiVersion: string | null;
    secret: string;
    meta: EndpointMeta;
  },
): Stripe.WebhookEndpoint {
  const endpoint: Stripe.WebhookEndpoint = {
    id: input.id ?? newId("we"),
    object: "webhook_endpoint",
    api_version: input.apiVersion,
    application: null,
    created: engine.now(),
    description: input.description,
    enabled_events: input.enabledEvents,
    livemode: false,
    metadata: input.metadata,
    secret: input.secret,
    status: "enabled",
    url: input.url,
  };
  engine.store.insert<Stripe.WebhookEndpoint, EndpointMeta>(
    "webhook_endpoint",
    engine.platform,
    endpoint,
    input.meta,
  );
  return endpoint;
}

/** Stripe shows an endpoint's secret only in the response that created it. */
function withoutSecret(endpoint: Stripe.WebhookEndpoint): Stripe.WebhookEndpoint {
  const { secret: _secret, ...rest } = endpoint;
  return rest;
}

function validUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("scheme");
    return url;
  } catch {
    throw invalidParam("url", `Invalid URL: ${url}`, "url_invalid");
  }
}

export function registerEvents(router: Router, engine: Engine): void {
  router.get("/v1/events/:id", (req) => {
    const event = engine.events.get(req.pathParams.id!);
    if (!event || event.owner !== req.account) throw resourceMissing("event", req.pathParams.id!);
    return new RawJson(renderEvent(event, engine.options.apiVersion));
  });

  router.get("/v1/events", (req) => {
    const page = pageRequest(req.params);
    // A cursor must name one of the account's events, as in every other list.
    for (const [param, id] of [
      ["starting_after", page.startingAfter],
      ["ending_before", page.endingBefore],
    ] as const) {
      if (id !== undefined && engine.events.get(id)?.owner !== req.account) {
        throw resourceMissing("event", id, param);
      }
    }
    const type = optString(req.params, "type");
    const types = optStringArray(req.params, "types");
    const result = engine.events.page(
      {
        owner: req.account,
        types: types ?? (type !== undefined ? [type] : undefined),
        createdMatches: (created) => matchesRange(created, req.params, "created"),
        deliverySuccess: optBool(req.params, "delivery_success"),
      },
      page.limit,
      page.startingAfter,
      page.endingBefore,
    );
    const data = result.data.map((e) => renderEvent(e, engine.options.apiVersion)).join(",");
    return new RawJson(`{"object":"list","data":[${data}],"has_more":${result.has_more},"url":"/v1/events"}`);
  });

  router.post(
    "/v1/webhook_endpoints",
    (req) => {
      const enabledEvents = optStringArray(req.params, "enabled_events");
      if (!enabledEvents || enabledEvents.length === 0) reqString(req.params, "enabled_events");
      const connect = optBool(req.params, "connect") ?? false;
      return createEndpoint(engine, {
        url: validUrl(reqString(req.params, "url")),
        enabledEvents: enabledEvents ?? [],
        description: optString(req.params, "description") || null,
        metadata: applyMetadata({}, req.params),
        apiVersion: optString(req.params, "api_version") || null,
        secret: newWebhookSecret(),
        meta: { platformEvents: !connect, connectEvents: connect },
      });
    },
    WEBHOOK_ENDPOINT_CREATE,
  );

  router.get("/v1/webhook_endpoints/:id", (req) =>
    withoutSecret(
      engine.store.get<Stripe.WebhookEndpoint>(
        "webhook_endpoint",
        req.pathParams.id!,
        req.account,
        "webhook_endpoint",
      ).obj,
    ),
  );

  router.post("/v1/webhook_endpoints/:id", (req) => {
    const endpoint = engine.store.get<Stripe.WebhookEndpoint>(
      "webhook_endpoint",
      req.pathParams.id!,
      req.account,
      "webhook_endpoint",
    ).obj;
    const url = optString(req.params, "url");
    if (url) endpoint.url = validUrl(url);
    const events = optStringArray(req.params, "enabled_events");
    if (events) endpoint.enabled_events = events;
    const description = optNullableString(req.params, "description");
    if (description !== undefined) endpoint.description = description;
    const disabled = optBool(req.params, "disabled");
    if (disabled !== undefined) endpoint.status = disabled ? "disabled" : "enabled";
    endpoint.metadata = applyMetadata(endpoint.metadata, req.params);
    return withoutSecret(endpoint);
  });

  router.delete("/v1/webhook_endpoints/:id", (req) => {
    const id = req.pathParams.id!;
    engine.store.get("webhook_endpoint", id, req.account, "webhook_endpoint");
    engine.store.remove(id);
    return { id, object: "webhook_endpoint", deleted: true } satisfies Stripe.DeletedWebhookEndpoint;
  });

  router.get("/v1/webhook_endpoints", (req) => {
    const page = engine.store.page<Stripe.WebhookEndpoint>(
      "webhook_endpoint",
      req.account,
      pageRequest(req.params),
    );
    return listOf("/v1/webhook_endpoints", { data: page.data.map(withoutSecret), has_more: page.has_more });
  });
}
