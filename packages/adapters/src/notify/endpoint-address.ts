// Where notification webhooks may go. An endpoint is a client app's URL that the scheduler
// POSTs to: left unchecked, a stolen admin token (or a DNS name that resolves to a private
// address) would make the scheduler a proxy into the platform's own network — its API on
// loopback, the cloud's metadata service, databases on private addresses (SSRF). So, unless
// the operator says otherwise (SUSU_NOTIFY_ENDPOINT_ADDRESSES=any, for development and
// tests whose receivers listen on 127.0.0.1), an endpoint must be https, carry no
// credentials, and neither name nor resolve to a loopback, private, link-local, unspecified,
// multicast, shared (CGNAT) or reserved address. The API checks the URL when an endpoint is
// created; the delivery worker checks the URL again and every address its host resolves to
// before each send, and connects only to those addresses.
import { isIP } from "node:net";
import { z } from "zod";

/**
 * Which endpoints webhooks may reach (SUSU_NOTIFY_ENDPOINT_ADDRESSES): `public` (the
 * default) https URLs whose host is, and resolves to, public addresses only; `any` also
 * plain http and every address (loopback, private…), for development and tests.
 */
export const ENDPOINT_ADDRESS_POLICIES = ["public", "any"] as const;
export type EndpointAddressPolicy = (typeof ENDPOINT_ADDRESS_POLICIES)[number];

/** The variable (a zod shape, spread into the API's and the scheduler's schemas); blank is unset. */
export const NOTIFY_ENDPOINT_ENV = {
  /**
   * `public` (default): notification endpoints must be https and public (no loopback,
   * private, link-local, CGNAT… address, named or resolved); `any`: also http and any
   * address, for development and tests (`npm start` on the emulator sets it).
   */
  SUSU_NOTIFY_ENDPOINT_ADDRESSES: z.preprocess(
    (value) => (typeof value === "string" ? (value.trim() === "" ? undefined : value.trim()) : value),
    z.enum(ENDPOINT_ADDRESS_POLICIES, { error: "must be public or any" }).default("public"),
  ),
};

/** An IPv4 address as its 4 bytes; undefined when `ip` is not dotted-decimal. */
function ipv4Bytes(ip: string): number[] | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p))) return undefined;
  const bytes = parts.map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/** An IPv6 address (zone removed) as its 8 16-bit groups; undefined when it is not one. */
function ipv6Groups(ip: string): number[] | undefined {
  let text = ip.toLowerCase();
  const groups: number[] = [];
  // An IPv4 tail (::ffff:127.0.0.1) is two groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  let tailGroups: number[] = [];
  if (tail.includes(".")) {
    const v4 = ipv4Bytes(tail);
    if (v4 === undefined) return undefined;
    tailGroups = [(v4[0] ?? 0) * 256 + (v4[1] ?? 0), (v4[2] ?? 0) * 256 + (v4[3] ?? 0)];
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (half: string) =>
    half === ""
      ? []
      : half.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN));
  const head = parse(halves[0] ?? "");
  const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
  if ([...head, ...rest].some(Number.isNaN)) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  groups.push(...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest);
  if (tailGroups.length > 0) groups.splice(6, 2, ...tailGroups);
  return groups;
}

/** Why an IPv4 address (its bytes) is not public, or undefined. */
function ipv4Kind([a = 0, b = 0, c = 0]: readonly number[]): string | undefined {
  if (a === 0) return "unspecified";
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 169 && b === 254) return "link-local";
  if (a === 100 && b >= 64 && b <= 127) return "shared (CGNAT)";
  if (a >= 224 && a <= 239) return "multicast";
  // 240.0.0.0/4 (with the broadcast address), the IETF's 192.0.0.0/24 and benchmarking's 198.18.0.0/15.
  if (a >= 240 || (a === 192 && b === 0 && c === 0) || (a === 198 && (b === 18 || b === 19)))
    return "reserved";
  return undefined;
}

/** The IPv4 address in groups 6 and 7, as bytes. */
const embeddedV4 = (g: readonly number[], at = 6): number[] => {
  const hi = g[at] ?? 0;
  const lo = g[at + 1] ?? 0;
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
};

/**
 * Why an IP address is not one a webhook may reach under `public`: `loopback`, `private`
 * (RFC 1918, fc00::/7, fec0::/10), `link-local` (169.254/16 — the cloud metadata service —
 * and fe80::/10), `unspecified` (0/8, ::), `multicast`, `shared (CGNAT)` (100.64/10) or
 * `reserved`; an IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:0:0/96,
 * IPv4-compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by it. Undefined: a
 * public address. Throws when `ip` is not an IP address.
 */
export function privateAddressKind(ip: string): string | undefined {
  const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = ipv4Bytes(bare);
  if (v4 !== undefined) return ipv4Kind(v4);
  const g = isIP(bare) === 6 ? ipv6Groups(bare) : undefined;
  if (g === undefined) throw new TypeError(`${ip} is not an IP address`);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return "unspecified";
  if (zeros(0, 7) && g[7] === 1) return "loopback";
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, deprecated).
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return ipv4Kind(embeddedV4(g));
  // NAT64's well-known prefix: a gateway would carry it to the IPv4 address.
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return ipv4Kind(embeddedV4(g));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return "private";
  if (g[0] === 0x2002) return ipv4Kind(embeddedV4(g, 1));
  const first = g[0] ?? 0;
  if ((first & 0xfe00) === 0xfc00) return "private";
  if ((first & 0xffc0) === 0xfe80) return "link-local";
  if ((first & 0xffc0) === 0xfec0) return "private";
  if ((first & 0xff00) === 0xff00) return "multicast";
  return undefined;
}

/** "a loopback address", "an unspecified address". */
export const addressPhrase = (kind: string): string =>
  `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind} address`;

/** A URL's host as a resolver and a socket take it: IPv6 without brackets, no trailing dot. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");

/**
 * Why a webhook endpoint's URL is not allowed under `policy`, or undefined when it is. Under
 * both: it must be an http(s) URL without credentials (`user:pass@`). Under `public`, also:
 * https only, and a host that is neither `localhost` (or a name under it) nor an IP address
 * {@link privateAddressKind} names (in any form the URL parser reads: `0x7f000001`, `127.1`,
 * `[::ffff:7f00:1]`). A host name's addresses are checked when a webhook is sent.
 */
export function endpointUrlProblem(raw: string, policy: EndpointAddressPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${raw} is not a URL`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return policy === "any" ? "the URL must be http or https" : "the URL must be https";
  if (url.username !== "" || url.password !== "")
    return "the URL must not carry credentials (user:password@): the endpoint checks Susu-Signature instead";
  if (policy === "any") return undefined;
  if (url.protocol !== "https:")
    return "the URL must be https (plain http only with SUSU_NOTIFY_ENDPOINT_ADDRESSES=any, for development)";
  const host = hostOf(url).toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost"))
    return `${url.hostname} is localhost: endpoints must be on public addresses`;
  if (isIP(host) !== 0) {
    const kind = privateAddressKind(host);
    if (kind !== undefined)
      return `${url.hostname} is ${addressPhrase(kind)}: endpoints must be on public addresses`;
  }
  return undefined;
}
