import { CURRENCY_CODES, currencyInfo } from "@susu/domain";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatAmount, formatInstant } from "../../src/notify/mail-format.js";

const LOCALES = ["en-AU", "de-DE", "fr-FR", "ja-JP", "ar-EG", "en-US"] as const;
const ZONES = ["Australia/Sydney", "UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin"] as const;

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

describe("formatters kept between calls", () => {
  it("write every amount and instant as a formatter made for that call would, whatever came before", () => {
    // The formatters are kept by locale and currency or time zone: any mix of calls in any
    // order must still write each value for its own locale, currency and zone.
    const call = fc.oneof(
      fc.record({
        kind: fc.constant("amount" as const),
        locale: fc.constantFrom(...LOCALES),
        currency: fc.constantFrom(...CURRENCY_CODES),
        minor: fc.integer({ min: 0, max: 10 ** 12 }),
      }),
      fc.record({
        kind: fc.constant("instant" as const),
        locale: fc.constantFrom(...LOCALES),
        zone: fc.constantFrom(...ZONES),
        at: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) }),
      }),
    );
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 30 }), (calls) => {
        for (const c of calls) {
          if (c.kind === "amount") {
            const { exponent } = currencyInfo(c.currency);
            const fresh = new Intl.NumberFormat(c.locale, {
              style: "currency",
              currency: c.currency,
              minimumFractionDigits: exponent,
              maximumFractionDigits: exponent,
            }).format(c.minor / 10 ** exponent);
            expect(formatAmount(c.minor, c.currency, c.locale)).toBe(fresh);
          } else {
            const iso = new Date(c.at).toISOString();
            const fresh = new Intl.DateTimeFormat(c.locale, {
              dateStyle: "full",
              timeStyle: "short",
              timeZone: c.zone,
            }).format(new Date(c.at));
            expect(formatInstant(iso, { locale: c.locale, timeZone: c.zone })).toBe(`${fresh} (${c.zone})`);
          }
        }
      }),
    );
  });

  it("still refuses a time zone Intl does not know, each time", () => {
    const where = { locale: "en-AU", timeZone: "Mars/Olympus_Mons" };
    expect(() => formatInstant("2026-03-01T00:00:00.000Z", where)).toThrow(RangeError);
    expect(() => formatInstant("2026-03-01T00:00:00.000Z", where)).toThrow(RangeError);
  });
});
