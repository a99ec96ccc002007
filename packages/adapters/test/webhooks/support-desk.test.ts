import { ManualClock } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { createPrismaClient } from "../../src/db/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));

describe("PrismaSupportDesk", () => {
  it("opens a ticket once per id; a repeat keeps the first (and never reopens a resolved one)", async () => {
    const desk = new PrismaSupportDesk(db.prisma, clock);
    const ticket = {
      id: "round_1:ticket:payout_blocked:1",
      aggregate: "round" as const,
      aggregateId: "round_1",
      groupId: "grp_1",
      reason: "payout_blocked" as const,
      summary: "payout of round round_1 to ana is blocked: the account cannot receive\nsecond line",
    };
    expect((await desk.openTicket(ticket)).isOk()).toBe(true);
    const stored = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: ticket.id } });
    expect(stored).toMatchObject({
      effectId: ticket.id,
      kind: "payout_blocked",
      status: "open",
      subject: "payout of round round_1 to ana is blocked: the account cannot receive",
      details: { summary: ticket.summary },
      groupId: "grp_1",
      aggregateType: "round",
      aggregateId: "round_1",
      roundId: "round_1",
      webhookEventId: null,
    });
    expect(stored.createdAt.getTime()).toBe(clock.now());

    await db.prisma.supportTicket.update({ where: { id: ticket.id }, data: { status: "resolved" } });
    clock.advance(1_000);
    expect((await desk.openTicket({ ...ticket, summary: "changed" })).isOk()).toBe(true);
    expect(await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: ticket.id } })).toMatchObject({
      status: "resolved",
      details: { summary: ticket.summary },
    });
  });

  it("a parking's ticket a person resolved is reopened when the item parks again (a replay or an undone dismissal that failed)", async () => {
    const desk = new PrismaSupportDesk(db.prisma, clock);
    const ticket = {
      id: "webhook:evt_again:parked",
      reason: "webhook_parked" as const,
      summary: "Stripe event evt_again was parked",
    };
    expect((await desk.openTicket(ticket, { webhookEventId: "evt_again" })).isOk()).toBe(true);
    // Opened again while still open (a repeat of the same parking): nothing changes.
    expect((await desk.openTicket(ticket, { webhookEventId: "evt_again" })).isOk()).toBe(true);
    const first = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: ticket.id } });
    expect(first).toMatchObject({ status: "open", details: { summary: ticket.summary } });
    expect((first.details as { notes?: unknown }).notes).toBeUndefined();
    await db.prisma.supportTicket.update({
      where: { id: ticket.id },
      data: { status: "resolved", resolution: "dismissed: the charge was deleted", resolvedBy: "ops" },
    });
    clock.advance(60_000);
    expect(
      (await desk.openTicket({ ...ticket, summary: "Stripe event evt_again was parked again" })).isOk(),
    ).toBe(true);
    const reopened = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: ticket.id } });
    expect(reopened).toMatchObject({ status: "open", resolution: null, resolvedBy: null });
    expect(reopened.details).toMatchObject({
      summary: ticket.summary,
      notes: [
        {
          summary: "Stripe event evt_again was parked again",
          reopened: { resolution: "dismissed: the charge was deleted", resolvedBy: "ops" },
        },
      ],
    });
  });

  it("concurrent openings of one ticket store one row", async () => {
    const desk = new PrismaSupportDesk(db.prisma, clock);
    const ticket = { id: "round_2:ticket:dispute:du_1", reason: "dispute" as const, summary: "dispute du_1" };
    const results = await Promise.all(Array.from({ length: 6 }, () => desk.openTicket(ticket)));
    expect(results.every((r) => r.isOk())).toBe(true);
    expect(await db.prisma.supportTicket.count({ where: { id: ticket.id } })).toBe(1);
  });

  it("parked-webhook tickets carry the event id and details, no effect id", async () => {
    const desk = new PrismaSupportDesk(db.prisma, clock);
    await desk.openTicket(
      { id: "webhook:evt_1:parked", reason: "webhook_parked", summary: "Stripe event evt_1 was parked" },
      { webhookEventId: "evt_1", memberId: "ben", details: { code: "storage_unavailable", attempts: 10 } },
    );
    expect(
      await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "webhook:evt_1:parked" } }),
    ).toMatchObject({
      effectId: null,
      kind: "webhook_parked",
      webhookEventId: "evt_1",
      memberId: "ben",
      details: { summary: "Stripe event evt_1 was parked", code: "storage_unavailable", attempts: 10 },
    });
  });

  it("a database that cannot be reached is ticket_failed (the dispatcher retries the effect)", async () => {
    const broken = createPrismaClient("postgresql://nobody:wrong@127.0.0.1:1/none", { maxConnections: 1 });
    try {
      const result = await new PrismaSupportDesk(broken, clock).openTicket({
        id: "t",
        reason: "dispute",
        summary: "s",
      });
      expect(result._unsafeUnwrapErr()).toMatchObject({ type: "ticket_failed", code: "ticket_failed" });
    } finally {
      await broken.$disconnect();
    }
  });
});
