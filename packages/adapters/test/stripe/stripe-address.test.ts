import { describe, expect, it } from "vitest";
import { stripeAddressOf, stripeSettingsFromEnv } from "../../src/stripe/stripe-client.js";

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

describe("where an operator's command finds Stripe, from its environment", () => {
  it("is STRIPE_SECRET_KEY at STRIPE_API_URL, trimmed; Stripe itself (no URL) with a key and no URL", () => {
    expect(
      stripeSettingsFromEnv({
        STRIPE_SECRET_KEY: " sk_live_1 ",
        STRIPE_API_URL: " https://stripe.internal ",
      }),
    ).toEqual({ secretKey: "sk_live_1", apiUrl: "https://stripe.internal" });
    expect(stripeSettingsFromEnv({ STRIPE_SECRET_KEY: "sk_live_1", SUSU_EMULATOR_PORT: "4000" })).toEqual({
      secretKey: "sk_live_1",
      apiUrl: undefined,
    });
  });

  it("is the emulator of `npm start` with neither set: port 12111, or SUSU_EMULATOR_PORT", () => {
    expect(stripeSettingsFromEnv({})).toEqual({ secretKey: undefined, apiUrl: "http://127.0.0.1:12111" });
    expect(stripeSettingsFromEnv({ SUSU_EMULATOR_PORT: "4000" })).toEqual({
      secretKey: undefined,
      apiUrl: "http://127.0.0.1:4000",
    });
  });

  it("counts a blank setting as unset", () => {
    expect(
      stripeSettingsFromEnv({ STRIPE_SECRET_KEY: "  ", STRIPE_API_URL: "", SUSU_EMULATOR_PORT: " " }),
    ).toEqual({ secretKey: undefined, apiUrl: "http://127.0.0.1:12111" });
    expect(stripeSettingsFromEnv({ STRIPE_API_URL: "http://127.0.0.1:5000" })).toEqual({
      secretKey: undefined,
      apiUrl: "http://127.0.0.1:5000",
    });
  });
});
