import { describe, expect, it } from "vitest";
import { LogNotifier, maskEmail } from "../../src/notify/log-notifier.js";

describe("LogNotifier", () => {
  it("writes a customer's address masked, and the roles the notifier resolves", async () => {
    const lines: Record<string, unknown>[] = [];
    const notifier = new LogNotifier({ info: (fields) => lines.push(fields) });
    await notifier.send({
      id: "hp_1:notify:refund_started:1",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      personIds: [],
      emails: ["cy@example.com"],
      roles: ["platform_admins"],
      template: "refund_started",
      data: { amountMinor: 100 },
    });
    expect(lines).toEqual([
      expect.objectContaining({
        aggregate: "held_payment",
        to: [],
        toEmails: ["c***@example.com"],
        toRoles: ["platform_admins"],
        template: "refund_started",
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain("cy@example.com");
    expect(maskEmail("nobody")).toBe("***");
  });
});
