import { describe, expect, it } from "vitest";
import { stripeAddressOf } from "../../src/stripe/stripe-client.js";

describe("the Stripe address an operator's command names when a call fails", () => {
  it("is scheme, host and port only: never the credentials, path or query of the setting", () => {
    expect(stripeAddressOf("http://user:PASS@127.0.0.1:12111/stripe?token=T#x")).toBe(
      "http://127.0.0.1:12111",
    );
  });

  it("fills in the scheme's port, keeps an IPv6 host in one pair of brackets, and names Stripe when unset", () => {
    expect(stripeAddressOf("https://stripe.internal")).toBe("https://stripe.internal:443");
    expect(stripeAddressOf("http://[::1]:12111")).toBe("http://[::1]:12111");
    expect(stripeAddressOf(undefined)).toBe("https://api.stripe.com");
  });
});
