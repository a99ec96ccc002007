import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { type Included, isIncludable, withoutIncludable } from "../core/includable.js";
import type { Page, PageRequest } from "../core/store.js";
import { validationFailure } from "./errors.js";
import { optInt, optString, type Params } from "./params.js";

export function pageRequest(params: Params): PageRequest {
  const limit = optInt(params, "limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw validationFailure("This value must be greater than or equal to 1 and less than or equal to 100.", {
      param: "limit",
      code: "parameter_invalid_integer",
    });
  }
  const startingAfter = optString(params, "starting_after") || undefined;
  const endingBefore = optString(params, "ending_before") || undefined;
  if (startingAfter !== undefined && endingBefore !== undefined) {
    throw validationFailure("You may only specify one of these parameters: ending_before, starting_after.", {
      param: "ending_before",
    });
  }
  return { limit, startingAfter, endingBefore };
}

export function listOf<T>(url: string, page: Page<T>): Stripe.ApiList<T> {
  return { object: "list", data: page.data, has_more: page.has_more, url };
}

/**
 * Replaces ids by the objects they name along each `expand[]` path (`latest_charge`,
 * `data.payment_intent`, `latest_charge.balance_transaction`), without touching stored objects.
 */
export function expand(engine: Engine, value: unknown, paths: readonly string[]): unknown {
  const included: Included = new WeakMap();
  let out = value;
  for (const path of paths) {
    const segments = path.split(".");
    if (segments.length > 4) {
      throw validationFailure(`You cannot expand more than 4 levels of a property. Property: ${path}`, {
        param: "expand",
      });
    }
    out = expandPath(engine, out, segments, included);
  }
  return withoutIncludable(out, included);
}

function expandPath(engine: Engine, value: unknown, segments: string[], included: Included): unknown {
  if (segments.length === 0) return value;
  if (Array.isArray(value)) return value.map((item) => expandPath(engine, item, segments, included));
  if (typeof value !== "object" || value === null) return value;
  const [head, ...rest] = segments as [string, ...string[]];
  const obj = value as Record<string, unknown>;
  if (!(head in obj)) {
    throw validationFailure(`This property cannot be expanded (${head}).`, { param: "expand" });
  }
  let field = obj[head];
  if (typeof field === "string") {
    const record = engine.store.record(field);
    if (record) field = record.obj;
  } else if (Array.isArray(field) && field.every((f) => typeof f === "string")) {
    field = field.map((id: string) => engine.store.record(id)?.obj ?? id);
  }
  const out = { ...obj, [head]: expandPath(engine, field, rest, included) };
  const asked = new Set(included.get(obj));
  if (isIncludable(obj, head)) asked.add(head);
  if (asked.size > 0) included.set(out, asked);
  return out;
}
