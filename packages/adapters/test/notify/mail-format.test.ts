import { describe, expect, it } from "vitest";
import { formatAmount } from "../../src/notify/mail-format.js";

describe("formatAmount", () => {
  it("reads minor units with the domain's exponent, not the locale's cash digits (HUF, IDR are two-decimal at Stripe)", () => {
    // 17,500 minor units of HUF are 175.00 HUF (Stripe's minimum charge), not 17,500 HUF.
    expect(formatAmount(17500, "HUF", "en-AU")).toBe("HUF\u00a0175.00");
    expect(formatAmount(800000, "idr", "en-AU")).toBe("IDR\u00a08,000.00");
  });

  it("keeps zero- and three-decimal currencies and the locale's way of writing them", () => {
    expect(formatAmount(1000, "JPY", "en-AU")).toBe("JPY\u00a01,000");
    expect(formatAmount(1230, "KWD", "en-AU")).toBe("KWD\u00a01.230");
    expect(formatAmount(123456, "aud", "en-AU")).toBe("$1,234.56");
    expect(formatAmount(123456, "EUR", "de-DE")).toBe("1.234,56\u00a0€");
  });

  it("writes a code Intl does not know as minor units", () => {
    expect(formatAmount(5, "XYZ1", "en-AU")).toBe("5 XYZ1 (minor units)");
  });
});
