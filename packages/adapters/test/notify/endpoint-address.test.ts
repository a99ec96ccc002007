// Which webhook endpoint URLs and addresses susu may reach: no credentials, https only, and
// nothing on the platform's own networks (loopback, private, link-local, metadata, CGNAT…),
// unless SUSU_NOTIFY_ENDPOINT_ADDRESSES=any (development and tests).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { endpointUrlProblem, privateAddressKind } from "../../src/notify/endpoint-address.js";

describe("privateAddressKind", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.1.2", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "shared (CGNAT)"],
    ["100.127.255.255", "shared (CGNAT)"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "reserved"],
    ["240.0.0.1", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "private"],
    ["fd12:3456:789a::1", "private"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf::1", "link-local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::FFFF:A9FE:A9FE", "link-local"],
    ["::ffff:10.0.0.1", "private"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["2002:7f00:1::", "loopback"],
    // Odd spellings: brackets, zones, upper case, the full form, an IPv4 tail anywhere it may be.
    ["[::1]", "loopback"],
    ["[fe80::1%eth0]", "link-local"],
    ["FE80::1", "link-local"],
    ["FC00::1", "private"],
    ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"],
    ["FF02::1%eth0", "multicast"],
    ["ff00::", "multicast"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["0:0:0:0:0:0:0:0", "unspecified"],
    ["0:0:0:0:0:ffff:127.0.0.1", "loopback"],
    ["0000:0000:0000:0000:0000:FFFF:7F00:0001", "loopback"],
    ["::ffff:0:0", "unspecified"],
    ["::ffff:100.64.0.1", "shared (CGNAT)"],
    ["::ffff:224.0.0.1", "multicast"],
    ["::ffff:ffff:ffff", "reserved"],
    ["::10.0.0.1", "private"],
    ["::0.0.0.2", "unspecified"],
    ["64:ff9b::10.0.0.1", "private"],
    ["64:FF9B::7F00:1", "loopback"],
    ["64:ff9b:1::", "private"],
    ["64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "private"],
    ["2002:c0a8:101::1", "private"],
    ["2002:a9fe:a9fe:ffff:ffff:ffff:ffff:ffff", "link-local"],
    ["2002:6440::", "shared (CGNAT)"],
    // The IETF's 192.0.0.0/24 and benchmarking's 198.18.0.0/15.
    ["192.0.0.8", "reserved"],
    ["198.18.0.1", "reserved"],
    ["198.19.255.255", "reserved"],
  ])("%s is %s", (ip, kind) => {
    expect(privateAddressKind(ip)).toBe(kind);
  });

  it.each([
    "93.184.216.34",
    "8.8.8.8",
    "172.32.0.1",
    "172.15.255.255",
    "100.128.0.1",
    "100.63.255.255",
    "169.255.0.1",
    "192.169.0.1",
    "223.255.255.255",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "fbff::1",
    "2a00:1450::1",
    "[2606:4700::1111]",
    "2606:4700::1111%eth0",
    "2606:4700:0000:0000:0000:0000:0000:1111",
    "::FFFF:8.8.8.8",
    "::ffff:808:808",
    "::ffff:172.32.0.1",
    "::8.8.8.8",
    "64:ff9b::8.8.8.8",
    "64:ff9b:2::1",
    "64:ff9b:0:1::a00:1",
    "2002:808:808::1",
    "2002:ac20::",
    "fe7f::1",
    "192.0.1.1",
    "198.17.255.255",
    "198.20.0.1",
  ])("%s is public", (ip) => {
    expect(privateAddressKind(ip)).toBeUndefined();
  });

  it.each([
    "example.com",
    "",
    "127.1",
    "1.2.3",
    "::ffff:1.2.3",
    "1:2:3:4:5:6:7:8:9",
    "[::1",
    // Leading zeros: C's inet_aton (and so getaddrinfo) and the URL parser read 012 as octal,
    // 10; judged as decimal 12 the private 10.0.0.1 would pass as public.
    "012.0.0.1",
    "010.0.0.1",
    "0177.0.0.1",
  ])("refuses %j: not an IP address", (ip) => {
    expect(() => privateAddressKind(ip)).toThrow(/not an IP address/);
  });
});

/** Why an IPv4 address (its bytes) is not public: the ranges, written as arithmetic. */
function ipv4KindOf([a, b, c]: readonly number[]): string | undefined {
  if (a === 0) return "unspecified";
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 169 && b === 254) return "link-local";
  if (a === 100 && b! >= 64 && b! <= 127) return "shared (CGNAT)";
  if (a! >= 224 && a! <= 239) return "multicast";
  if (a! >= 240 || (a === 192 && b === 0 && c === 0) || (a === 198 && (b === 18 || b === 19)))
    return "reserved";
  return undefined;
}

describe("privateAddressKind, for any address", () => {
  const byte = fc.integer({ min: 0, max: 255 });
  const group = fc.integer({ min: 0, max: 0xffff });
  // First bytes that start a range, or sit next to one, half of the time.
  const ipv4 = fc.tuple(
    fc.oneof(fc.constantFrom(0, 10, 100, 127, 169, 172, 192, 198, 223, 224, 239, 240, 255), byte),
    fc.oneof(fc.constantFrom(0, 15, 16, 18, 19, 31, 32, 63, 64, 127, 128, 168, 254), byte),
    fc.oneof(fc.constant(0), byte),
    byte,
  );
  const hex = (n: number) => n.toString(16);
  /** An IPv6 spelling's letters in upper or lower case. */
  const anyCase = fc.boolean().map((upper) => (text: string) => (upper ? text.toUpperCase() : text));

  it("judges an IPv4 address by its range", () => {
    fc.assert(
      fc.property(ipv4, (bytes) => {
        expect(privateAddressKind(bytes.join("."))).toBe(ipv4KindOf(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("judges an IPv6 address that carries an IPv4 one (mapped, compatible, NAT64, 6to4) by it, in any spelling", () => {
    fc.assert(
      fc.property(
        ipv4,
        fc.array(group, { minLength: 5, maxLength: 5 }),
        fc.nat(7),
        anyCase,
        fc.constantFrom("", "%eth0"),
        (bytes, [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0], form, cased, zone) => {
          const [a = 0, b = 0, c = 0, d = 0] = bytes;
          const dotted = bytes.join(".");
          const [hi, lo] = [hex(a * 256 + b), hex(c * 256 + d)];
          const carrier = [
            `::ffff:${dotted}`,
            `::ffff:${hi}:${lo}`,
            `0:0:0:0:0:ffff:${dotted}`,
            `0000:0000:0000:0000:0000:ffff:${hi}:${lo}`,
            `::${dotted}`,
            `64:ff9b::${dotted}`,
            `64:ff9b::${hi}:${lo}`,
            `2002:${hi}:${lo}:${[g0, g1, g2, g3, g4].map(hex).join(":")}`,
          ][form] as string;
          // ::0.0.0.1 is ::1, loopback.
          const expected = form === 4 && dotted === "0.0.0.1" ? "loopback" : ipv4KindOf(bytes);
          expect(privateAddressKind(`${cased(carrier)}${zone}`)).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("judges any other IPv6 address by its prefix, the same in full and in the URL parser's short form", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom(0xfc00, 0xfdff, 0xfe7f, 0xfe80, 0xfebf, 0xfec0, 0xfeff, 0xff00, 0x2606),
          group,
        ),
        fc.array(fc.oneof(fc.constant(0), group), { minLength: 7, maxLength: 7 }),
        anyCase,
        (first, rest, cased) => {
          fc.pre(first !== 0 && !(first === 0x64 && rest[0] === 0xff9b) && first !== 0x2002);
          const expected =
            (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfec0
              ? "private"
              : (first & 0xffc0) === 0xfe80
                ? "link-local"
                : (first & 0xff00) === 0xff00
                  ? "multicast"
                  : undefined;
          const full = [first, ...rest].map((g) => hex(g).padStart(4, "0")).join(":");
          const short = new URL(`http://[${full}]/`).hostname;
          expect(privateAddressKind(cased(full))).toBe(expected);
          expect(privateAddressKind(short)).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("endpointUrlProblem", () => {
  it.each([
    "https://push.app.example/susu",
    "https://93.184.216.34/x",
    "https://[2606:4700::1111]:8443/x",
    "https://localhost.example.com/x",
  ])("takes %s under public", (url) => {
    expect(endpointUrlProblem(url, "public")).toBeUndefined();
  });

  it.each([
    ["http://127.0.0.1:3100/v1/groups", /https/],
    ["https://127.0.0.1:3100/v1/groups", /127\.0\.0\.1 is a loopback address/],
    ["https://[::1]:3100/", /::1\] is a loopback address/],
    ["https://169.254.169.254/latest/meta-data", /link-local/],
    ["https://[::ffff:169.254.169.254]/latest/meta-data", /link-local/],
    ["https://[::ffff:7f00:1]/", /loopback/],
    ["https://0x7f000001/", /127\.0\.0\.1 is a loopback address/],
    ["https://2130706433/", /loopback/],
    ["https://127.1/", /loopback/],
    ["https://10.0.0.5/", /private/],
    ["https://192.168.0.10/", /private/],
    ["https://100.100.100.200/", /CGNAT/],
    ["https://[fd00::1]/", /private/],
    ["https://[fe80::1]/", /link-local/],
    ["https://0.0.0.0/", /unspecified/],
    ["https://[::]/", /unspecified/],
    ["https://224.0.0.1/", /multicast/],
    ["https://localhost/x", /localhost/],
    ["https://LOCALHOST./x", /localhost/],
    ["https://api.localhost/x", /localhost/],
    ["https://user:pass@example.com/x", /credentials/],
    ["https://user@example.com/x", /credentials/],
    ["ftp://example.com/x", /https/],
    ["not a url", /not a URL/],
  ])("refuses %s under public", (url, why) => {
    expect(endpointUrlProblem(url, "public")).toMatch(why);
  });

  it("takes http and private addresses under any, still not credentials", () => {
    expect(endpointUrlProblem("http://127.0.0.1:3100/push", "any")).toBeUndefined();
    expect(endpointUrlProblem("http://[::1]:3100/", "any")).toBeUndefined();
    expect(endpointUrlProblem("http://localhost:4000/push", "any")).toBeUndefined();
    expect(endpointUrlProblem("https://user:pass@example.com/x", "any")).toMatch(/credentials/);
    expect(endpointUrlProblem("ftp://example.com/x", "any")).toMatch(/http/);
  });
});
