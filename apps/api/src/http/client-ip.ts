import { isIP } from "node:net";
import type { Context } from "hono";

/** Finds the address a request came from, or `undefined` when it cannot be known. */
export type ClientIpResolver = (c: Context) => string | undefined;

/** The socket's peer address under @hono/node-server (its bindings are `c.env`). */
function socketAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/**
 * The client's address as a rate-limit key: IPv4-mapped IPv6 as plain IPv4, and IPv6 cut
 * to its /64 prefix (one host usually owns a whole /64, so per-address limits on IPv6
 * would be trivial to dodge). `undefined` for anything that is not an IP address.
 */
export function normalizeIp(raw: string): string | undefined {
  const address = raw.trim().replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return isIP(mapped[1]) === 4 ? mapped[1] : undefined;
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  const [head = "", tail = ""] = address.split("::");
  const headParts = head === "" ? [] : head.split(":");
  const tailParts = address.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = address.includes("::")
    ? [...headParts, ...Array<string>(8 - headParts.length - tailParts.length).fill("0"), ...tailParts]
    : headParts;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * Resolves the client address. With `trustedProxyHops` 0 (default) it is the TCP peer;
 * behind N reverse proxies that each append to `X-Forwarded-For`, it is the Nth entry from
 * the right (entries further left were written by the client and can be forged).
 */
export function clientIpResolver(options: { readonly trustedProxyHops?: number } = {}): ClientIpResolver {
  const hops = options.trustedProxyHops ?? 0;
  return (c) => {
    if (hops > 0) {
      const forwarded = (c.req.header("x-forwarded-for") ?? "")
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== "");
      const entry = forwarded[Math.max(0, forwarded.length - hops)];
      if (entry !== undefined) return normalizeIp(entry);
    }
    const peer = socketAddress(c);
    return peer === undefined ? undefined : normalizeIp(peer);
  };
}
