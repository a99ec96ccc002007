import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { parseCurrency } from "../core/money.js";
import { stringKey } from "../core/store.js";
import { invalidParam, invalidRequest, missingParam, resourceMissing } from "../http/errors.js";
import { PRICE_CREATE, PRODUCT_CREATE } from "../http/known-params.js";
import {
  applyMetadata,
  child,
  optBool,
  optEnum,
  optInt,
  optNullableString,
  optString,
  optStringArray,
  type Params,
  paramName,
  reqString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";

interface CatalogMeta {
  deleted?: boolean;
}

export function createProduct(engine: Engine, owner: string, params: Params, prefix = ""): Stripe.Product {
  const chosenId = optString(params, "id");
  // Stripe refuses a product id that exists (400 resource_already_exists).
  if (chosenId && engine.store.record(chosenId) !== undefined)
    throw invalidRequest(`Product already exists.`, { param: "id", code: "resource_already_exists" });
  const product: Stripe.Product = {
    id: chosenId || newId("prod", 14),
    object: "product",
    active: optBool(params, "active", prefix) ?? true,
    created: engine.now(),
    default_price: null,
    description: optString(params, "description", prefix) || null,
    images: optStringArray(params, "images", prefix) ?? [],
    livemode: false,
    marketing_features: [],
    metadata: applyMetadata({}, params),
    name: reqString(params, "name", prefix),
    package_dimensions: null,
    shippable: null,
    statement_descriptor: optString(params, "statement_descriptor", prefix) || null,
    tax_code: null,
    type: "service",
    unit_label: null,
    updated: engine.now(),
    url: null,
  };
  engine.store.insert<Stripe.Product, CatalogMeta>("product", owner, product, {});
  engine.emit("product.created", product, owner);
  return product;
}

/** A price from `price_data`-style parameters (`currency`, `unit_amount`, `product` or `product_data`, `recurring`). */
export function createPrice(engine: Engine, owner: string, params: Params, prefix = ""): Stripe.Price {
  const currency = parseCurrency(reqString(params, "currency", prefix), paramName(prefix, "currency"));
  const unitAmount = optInt(params, "unit_amount", prefix);
  if (unitAmount === undefined) throw missingParam(paramName(prefix, "unit_amount"));
  if (unitAmount < 0) throw invalidParam(paramName(prefix, "unit_amount"), "Invalid non-negative integer");
  let productId = optString(params, "product", prefix);
  const productData = child(params, "product_data", prefix);
  if (productId) {
    if (!engine.store.find("product", productId, owner))
      throw resourceMissing("product", productId, paramName(prefix, "product"));
  } else if (productData) {
    productId = createProduct(engine, owner, productData, paramName(prefix, "product_data")).id;
  } else {
    throw missingParam(paramName(prefix, "product"));
  }
  const recurringParams = child(params, "recurring", prefix);
  let recurring: Stripe.Price.Recurring | null = null;
  if (recurringParams) {
    const p = paramName(prefix, "recurring");
    const interval = optEnum(recurringParams, "interval", ["day", "week", "month", "year"], p);
    if (!interval) throw missingParam(paramName(p, "interval"));
    recurring = {
      interval,
      interval_count: optInt(recurringParams, "interval_count", p) ?? 1,
      meter: null,
      trial_period_days: optInt(recurringParams, "trial_period_days", p) ?? null,
      usage_type: "licensed",
    };
  }
  const price: Stripe.Price = {
    id: newId("price"),
    object: "price",
    active: optBool(params, "active", prefix) ?? true,
    billing_scheme: "per_unit",
    created: engine.now(),
    currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: optString(params, "lookup_key", prefix) || null,
    metadata: applyMetadata({}, params),
    nickname: optString(params, "nickname", prefix) || null,
    product: productId,
    recurring,
    tax_behavior: "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: recurring ? "recurring" : "one_time",
    unit_amount: unitAmount,
    unit_amount_decimal: null,
  };
  engine.store.insert<Stripe.Price, CatalogMeta>("price", owner, price, {});
  engine.emit("price.created", price, owner);
  return price;
}

export function getPrice(engine: Engine, id: string, owner: string, param = "price"): Stripe.Price {
  const price = engine.store.find<Stripe.Price>("price", id, owner)?.obj;
  if (!price) throw resourceMissing("price", id, param);
  if (!price.active)
    throw invalidRequest(`The price specified is inactive. This field only accepts active prices.`, {
      param,
    });
  return price;
}

export function registerCatalog(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.Price>(
    "price",
    "product",
    stringKey((p) => p.product),
  );
  router.post(
    "/v1/products",
    (req) => {
      const product = createProduct(engine, req.account, req.params);
      const priceData = child(req.params, "default_price_data");
      if (priceData) {
        const price = createPrice(
          engine,
          req.account,
          { ...priceData, product: product.id },
          "default_price_data",
        );
        product.default_price = price.id;
      }
      return product;
    },
    PRODUCT_CREATE,
  );

  router.get("/v1/products/:id", (req) => {
    const record = engine.store.get<Stripe.Product, CatalogMeta>(
      "product",
      req.pathParams.id!,
      req.account,
      "product",
    );
    if (record.meta.deleted) throw resourceMissing("product", req.pathParams.id!);
    return record.obj;
  });

  router.post("/v1/products/:id", (req) => {
    const product = engine.store.get<Stripe.Product>(
      "product",
      req.pathParams.id!,
      req.account,
      "product",
    ).obj;
    const name = optString(req.params, "name");
    if (name) product.name = name;
    const description = optNullableString(req.params, "description");
    if (description !== undefined) product.description = description;
    const active = optBool(req.params, "active");
    if (active !== undefined) product.active = active;
    const defaultPrice = optString(req.params, "default_price");
    if (defaultPrice) product.default_price = getPrice(engine, defaultPrice, req.account, "default_price").id;
    product.metadata = applyMetadata(product.metadata, req.params);
    product.updated = engine.now();
    engine.emit("product.updated", product, req.account);
    return product;
  });

  router.delete("/v1/products/:id", (req) => {
    const record = engine.store.get<Stripe.Product, CatalogMeta>(
      "product",
      req.pathParams.id!,
      req.account,
      "product",
    );
    record.meta.deleted = true;
    engine.emit("product.deleted", record.obj, req.account);
    return { id: record.id, object: "product", deleted: true } satisfies Stripe.DeletedProduct;
  });

  router.get("/v1/products", (req) => {
    const active = optBool(req.params, "active");
    const page = engine.store.page<Stripe.Product, CatalogMeta>(
      "product",
      req.account,
      pageRequest(req.params),
      (r) => !r.meta.deleted && (active === undefined || r.obj.active === active),
    );
    return listOf("/v1/products", page);
  });

  router.post("/v1/prices", (req) => createPrice(engine, req.account, req.params), PRICE_CREATE);

  router.get(
    "/v1/prices/:id",
    (req) => engine.store.get<Stripe.Price>("price", req.pathParams.id!, req.account, "price").obj,
  );

  router.post("/v1/prices/:id", (req) => {
    const price = engine.store.get<Stripe.Price>("price", req.pathParams.id!, req.account, "price").obj;
    const active = optBool(req.params, "active");
    if (active !== undefined) price.active = active;
    const nickname = optNullableString(req.params, "nickname");
    if (nickname !== undefined) price.nickname = nickname;
    const lookupKey = optNullableString(req.params, "lookup_key");
    if (lookupKey !== undefined) price.lookup_key = lookupKey;
    price.metadata = applyMetadata(price.metadata, req.params);
    engine.emit("price.updated", price, req.account);
    return price;
  });

  router.get("/v1/prices", (req) => {
    const product = optString(req.params, "product");
    const active = optBool(req.params, "active");
    const type = optString(req.params, "type");
    const lookupKeys = optStringArray(req.params, "lookup_keys");
    const page = engine.store.page<Stripe.Price>(
      "price",
      req.account,
      pageRequest(req.params),
      (r) =>
        (product === undefined || r.obj.product === product) &&
        (active === undefined || r.obj.active === active) &&
        (type === undefined || r.obj.type === type) &&
        (lookupKeys === undefined || (r.obj.lookup_key !== null && lookupKeys.includes(r.obj.lookup_key))),
      [["product", product]],
    );
    return listOf("/v1/prices", page);
  });
}
