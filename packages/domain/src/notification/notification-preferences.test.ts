import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_NOTIFICATION_PREFERENCES,
  NOTIFICATION_CLASSES,
  NOTIFICATION_TEMPLATE_NAMES,
  OPTIONAL_NOTIFICATION_TEMPLATES,
  PERSON_NOTIFICATION_TEMPLATES,
  parseNotificationPreferences,
  wantsNotification,
} from "./notification-preferences.js";

const codeOf = (input: Parameters<typeof parseNotificationPreferences>[0]) =>
  parseNotificationPreferences(input).match(
    () => "ok",
    (e) => e.code,
  );

describe("notification preferences", () => {
  it("classifies money messages as required and only those people may mute as optional", () => {
    for (const t of [
      "contribution_failed",
      "payout_sent",
      "payout_failed",
      "refund_started",
      "dispute_opened",
    ] as const)
      expect(NOTIFICATION_CLASSES[t]).toBe("required");
    expect(OPTIONAL_NOTIFICATION_TEMPLATES).toEqual(["checkout_expired"]);
  });

  it("classifies the notices sent to the platform's admins only as admin: never a person's, never muted", () => {
    const admin = NOTIFICATION_TEMPLATE_NAMES.filter((t) => NOTIFICATION_CLASSES[t] === "admin");
    expect(admin).toEqual([
      "reversal_failed",
      "refund_owed",
      "transfer_blocked",
      "reconciliation_differences",
    ]);
    expect(PERSON_NOTIFICATION_TEMPLATES.filter((t) => admin.includes(t))).toEqual([]);
    expect(PERSON_NOTIFICATION_TEMPLATES.length + admin.length).toBe(NOTIFICATION_TEMPLATE_NAMES.length);
    for (const t of admin) {
      expect(wantsNotification(DEFAULT_NOTIFICATION_PREFERENCES, t, "email")).toBe(false);
      for (const on of [true, false])
        expect(parseNotificationPreferences({ notifications: { [t]: on } })._unsafeUnwrapErr()).toMatchObject(
          {
            code: "notification_admin_only",
            field: `notifications.${t}`,
            message: `${t} is sent to the platform's admins only, not to people`,
          },
        );
    }
  });

  it("normalises what it keeps: trimmed address with a lower-case domain, canonical locale and zone", () => {
    const prefs = parseNotificationPreferences({
      email: "  Ana.B@Example.COM ",
      locale: "fr-ca",
      timeZone: "australia/sydney",
      channels: { push: false },
      notifications: { checkout_expired: false, payout_sent: true },
    })._unsafeUnwrap();
    expect(prefs).toEqual({
      email: "Ana.B@example.com",
      locale: "fr-CA",
      timeZone: "Australia/Sydney",
      channels: { email: true, push: false },
      muted: ["checkout_expired"],
    });
  });

  it("refuses bad input with a stable code", () => {
    expect(codeOf({ email: "not an address" })).toBe("invalid_email");
    expect(codeOf({ email: "a@b" })).toBe("invalid_email");
    expect(codeOf({ email: "a..b@example.com" })).toBe("invalid_email");
    expect(codeOf({ email: `${"a".repeat(250)}@example.com` })).toBe("invalid_email");
    expect(codeOf({ locale: "not a locale!" })).toBe("unknown_locale");
    expect(codeOf({ locale: "xx-YY" })).toBe("unknown_locale");
    expect(codeOf({ timeZone: "Mars/Olympus_Mons" })).toBe("unknown_time_zone");
    expect(codeOf({ notifications: { no_such_message: false } })).toBe("unknown_notification");
    expect(codeOf({ notifications: { toString: false } })).toBe("unknown_notification");
  });

  it("refuses switching off a required message and says why", () => {
    const refused = parseNotificationPreferences({ notifications: { payout_failed: false } });
    expect(refused._unsafeUnwrapErr()).toMatchObject({
      code: "notification_required",
      field: "notifications.payout_failed",
      message: "payout_failed is about your money and cannot be switched off",
    });
  });

  it("sends required messages on every channel whatever the person chose", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.subarray(OPTIONAL_NOTIFICATION_TEMPLATES),
        fc.constantFrom(...NOTIFICATION_TEMPLATE_NAMES),
        fc.constantFrom("email" as const, "push" as const),
        (email, push, muted, template, channel) => {
          const prefs = { channels: { email, push }, muted };
          const wanted = wantsNotification(prefs, template, channel);
          if (NOTIFICATION_CLASSES[template] === "required") expect(wanted).toBe(true);
          else if (NOTIFICATION_CLASSES[template] === "admin") expect(wanted).toBe(false);
          else expect(wanted).toBe(prefs.channels[channel] && !muted.includes(template));
        },
      ),
    );
  });

  it("sends everything meant for people to someone who never chose", () => {
    for (const t of PERSON_NOTIFICATION_TEMPLATES)
      expect(wantsNotification(DEFAULT_NOTIFICATION_PREFERENCES, t, "push")).toBe(true);
  });
});
