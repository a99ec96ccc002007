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
import { BlockList, isIP } from "node:net";
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

/**
 * The ranges no webhook may reach under `public`, by kind, checked in this order (::1 lies
 * in ::/104, the IPv4-compatible form of 0.0.0.0/8, and is loopback).
 */
const NOT_PUBLIC: readonly (readonly [kind: string, ranges: readonly string[]])[] = [
  ["loopback", ["127.0.0.0/8", "::1/128"]],
  ["unspecified", ["0.0.0.0/8", "::/128"]],
  // RFC 1918; unique local fc00::/7; site-local fec0::/10 (deprecated); NAT64's local-use 64:ff9b:1::/48.
  ["private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10", "64:ff9b:1::/48"]],
  // 169.254/16 holds the cloud metadata service.
  ["link-local", ["169.254.0.0/16", "fe80::/10"]],
  ["shared (CGNAT)", ["100.64.0.0/10"]],
  ["multicast", ["224.0.0.0/4", "ff00::/8"]],
  // 240.0.0.0/4 (with the broadcast address), the IETF's 192.0.0.0/24 and benchmarking's 198.18.0.0/15.
  ["reserved", ["240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15"]],
];

/**
 * An IPv4 range and the IPv6 ranges that carry its addresses: IPv4-compatible (::/96,
 * deprecated), NAT64's well-known prefix (64:ff9b::/96: a gateway would carry it to the IPv4
 * address) and 6to4 (2002::/16). IPv4-mapped (::ffff:0:0/96) needs none: a BlockList's IPv4
 * rule matches those by itself, in either spelling.
 */
function withCarriers(address: string, bits: number): [string, number, "ipv4" | "ipv6"][] {
  const [a = 0, b = 0, c = 0, d = 0] = address.split(".").map(Number);
  const sixToFour = `2002:${(a * 256 + b).toString(16)}:${(c * 256 + d).toString(16)}::`;
  return [
    [address, bits, "ipv4"],
    [`::${address}`, 96 + bits, "ipv6"],
    [`64:ff9b::${address}`, 96 + bits, "ipv6"],
    [sixToFour, 16 + bits, "ipv6"],
  ];
}

const NOT_PUBLIC_LISTS = NOT_PUBLIC.map(([kind, ranges]) => {
  const list = new BlockList();
  for (const range of ranges) {
    const [address = "", bits] = range.split("/");
    if (isIP(address) === 6) list.addSubnet(address, Number(bits), "ipv6");
    else
      for (const [at, prefix, family] of withCarriers(address, Number(bits)))
        list.addSubnet(at, prefix, family);
  }
  return [kind, list] as const;
});

/**
 * Why an IP address is not one a webhook may reach under `public`: `loopback`, `private`
 * (RFC 1918, fc00::/7, fec0::/10, 64:ff9b:1::/48), `link-local` (169.254/16 — the cloud
 * metadata service — and fe80::/10), `unspecified` (0/8, ::), `multicast`, `shared (CGNAT)`
 * (100.64/10) or `reserved`; an IPv6 address that carries an IPv4 one (IPv4-mapped
 * ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by it.
 * Undefined: a public address. Takes brackets and a zone (`[fe80::1%eth0]`). Throws when `ip`
 * is not an IP address — also for IPv4 with leading zeros (`012.0.0.1`), which C's resolver
 * reads as octal.
 */
export function privateAddressKind(ip: string): string | undefined {
  const bare = ip.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const family = isIP(bare);
  // A BlockList answers false, not an error, for what is not an address.
  if (family === 0) throw new TypeError(`${ip} is not an IP address`);
  return NOT_PUBLIC_LISTS.find(([, list]) => list.check(bare, family === 4 ? "ipv4" : "ipv6"))?.[0];
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
