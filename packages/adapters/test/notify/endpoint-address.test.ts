// Which webhook endpoint URLs and addresses susu may reach: no credentials, https only, and
// nothing on the platform's own networks (loopback, private, link-local, metadata, CGNAT…),
// unless SUSU_NOTIFY_ENDPOINT_ADDRESSES=any (development and tests).
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
  ])("%s is public", (ip) => {
    expect(privateAddressKind(ip)).toBeUndefined();
  });

  it("refuses what is not an IP address", () => {
    expect(() => privateAddressKind("example.com")).toThrow(/not an IP address/);
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
