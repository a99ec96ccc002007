import { invalidParam, missingParam, validationFailure } from "./errors.js";

/** A form body or query string parsed with bracket notation: strings, nested objects and arrays. */
export type Params = { [key: string]: ParamValue };
export type ParamValue = string | Params | ParamValue[] | undefined;

/**
 * The name Stripe gives a parameter in errors: `name` at the top level, `parent[name]` inside
 * another (`payment_method_data[billing_details][name]`). `parent` is the enclosing
 * parameter's own full name, without a trailing bracket.
 */
export function paramName(parent: string, name: string): string {
  return parent === "" ? name : `${parent}[${name}]`;
}

export function isParams(value: unknown): value is Params {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function child(params: Params, name: string, parent = ""): Params | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (!isParams(value)) {
    throw validationFailure(`Invalid object`, {
      param: paramName(parent, name),
      code: "parameter_invalid_object",
    });
  }
  return value;
}

export function optString(params: Params, name: string, parent = ""): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw invalidParam(paramName(parent, name), `Invalid string: ${name}`);
  return value;
}

/** `""` is how the SDK sends `null`: Stripe reads it as "unset this field". */
export function optNullableString(params: Params, name: string, parent = ""): string | null | undefined {
  const value = optString(params, name, parent);
  if (value === "") return null;
  return value;
}

export function reqString(params: Params, name: string, parent = ""): string {
  const value = optString(params, name, parent);
  if (value === undefined || value === "") throw missingParam(paramName(parent, name));
  return value;
}

export function optInt(params: Params, name: string, parent = ""): number | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) {
    throw validationFailure(`Invalid integer: ${String(value)}`, {
      param: paramName(parent, name),
      code: "parameter_invalid_integer",
    });
  }
  return Number.parseInt(value, 10);
}

export function reqInt(params: Params, name: string, parent = ""): number {
  const value = optInt(params, name, parent);
  if (value === undefined) throw missingParam(paramName(parent, name));
  return value;
}

export function optBool(params: Params, name: string, parent = ""): boolean | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  throw validationFailure(`Invalid boolean: ${String(value)}`, {
    param: paramName(parent, name),
    code: "parameter_invalid_boolean",
  });
}

export function optEnum<T extends string>(
  params: Params,
  name: string,
  allowed: readonly T[],
  parent = "",
): T | undefined {
  const value = optString(params, name, parent);
  if (value === undefined || value === "") return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw validationFailure(`Invalid ${name}: must be one of ${allowed.join(", ")}`, {
      param: paramName(parent, name),
      code: "parameter_invalid_string",
    });
  }
  return value as T;
}

/** Arrays arrive as `a[0]=x&a[1]=y`; qs turns long ones into objects keyed by index, so accept both. */
export function optArray(params: Params, name: string, parent = ""): ParamValue[] | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (Array.isArray(value)) return value;
  if (isParams(value)) {
    return Object.keys(value)
      .filter((k) => /^\d+$/.test(k))
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => value[k]);
  }
  if (typeof value === "string") return [value];
  throw validationFailure(`Invalid array`, {
    param: paramName(parent, name),
    code: "parameter_invalid_array",
  });
}

export function optStringArray(params: Params, name: string, parent = ""): string[] | undefined {
  const items = optArray(params, name, parent);
  if (items === undefined) return undefined;
  return items.map((item, i) => {
    if (typeof item !== "string") throw invalidParam(`${paramName(parent, name)}[${i}]`, "Invalid string");
    return item;
  });
}

export function expandParam(params: Params): string[] {
  return optStringArray(params, "expand") ?? [];
}

/**
 * Stripe's metadata rules: at most 50 keys, keys up to 40 characters, values up to 500;
 * an empty value deletes a key and `metadata=""` clears everything.
 */
export function applyMetadata(
  current: Record<string, string>,
  params: Params,
  name = "metadata",
): Record<string, string> {
  const value = params[name];
  if (value === undefined) return current;
  if (value === "") return {};
  if (!isParams(value)) throw validationFailure("Invalid metadata", { param: name });
  const next = { ...current };
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string")
      throw validationFailure(`Invalid value for metadata key ${key}`, { param: name });
    if (key.length > 40) {
      throw validationFailure(`Metadata keys can have up to 40 characters.`, { param: `${name}[${key}]` });
    }
    if (v.length > 500) {
      throw validationFailure(`Metadata values can have up to 500 characters.`, { param: `${name}[${key}]` });
    }
    if (v === "") delete next[key];
    else next[key] = v;
  }
  if (Object.keys(next).length > 50) {
    throw validationFailure("You can have up to 50 metadata keys.", { param: name });
  }
  return next;
}

/** Stripe's `created[gte]=…` style filters. */
export function matchesRange(value: number, params: Params, name: string): boolean {
  const raw = params[name];
  if (raw === undefined || raw === "") return true;
  if (typeof raw === "string") return value === Number(raw);
  if (!isParams(raw)) return true;
  const bound = (k: string): number | undefined => {
    const v = raw[k];
    return typeof v === "string" && v !== "" ? Number(v) : undefined;
  };
  const gt = bound("gt");
  const gte = bound("gte");
  const lt = bound("lt");
  const lte = bound("lte");
  if (gt !== undefined && !(value > gt)) return false;
  if (gte !== undefined && !(value >= gte)) return false;
  if (lt !== undefined && !(value < lt)) return false;
  if (lte !== undefined && !(value <= lte)) return false;
  return true;
}
