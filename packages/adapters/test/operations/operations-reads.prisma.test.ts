// The operators' reads on PostgreSQL page with keysets that hold across ties: tickets
// opened in the same millisecond, ledger transactions that happened at the same time.
import { debitInitiated, money } from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { PrismaLedgerStore } from "../../src/prisma/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 0, 6);

async function pages<T extends { id: string }>(
  read: (startingAfter: string | undefined) => Promise<{ items: readonly T[]; hasMore: boolean }>,
): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await read(after);
    ids.push(...page.items.map((item) => item.id));
    if (!page.hasMore) return ids;
    after = page.items.at(-1)?.id;
  }
  throw new Error("paging did not end");
}

describe("keyset paging across ties", () => {
  it("lists tickets opened at the same instant once each, by id", async () => {
    const desk = new PrismaSupportDesk(db.prisma, new ManualClock(T));
    const ids = ["t_e", "t_a", "t_d", "t_b", "t_c"];
    for (const id of ids)
      (await desk.openTicket({ id, reason: "payout_blocked", summary: id }))._unsafeUnwrap();
    const seen = await pages(async (startingAfter) =>
      (
        await desk.listTickets({ limit: 2, ...(startingAfter !== undefined ? { startingAfter } : {}) })
      )._unsafeUnwrap(),
    );
    expect(seen).toEqual([...ids].sort());
    (await desk.resolveTicket("t_b", { by: "ops", note: "done", at: T + 1 }))._unsafeUnwrap();
    const open = (await desk.listTickets({ status: "open", limit: 10 }))._unsafeUnwrap();
    expect(open.items.map((t) => t.id)).toEqual(["t_a", "t_c", "t_d", "t_e"]);
    // A cursor whose ticket left the status since the last page (t_b was resolved) still marks
    // the place: the listing goes on after it instead of ending early.
    expect(
      (await desk.listTickets({ status: "open", limit: 10, startingAfter: "t_b" }))._unsafeUnwrap(),
    ).toEqual({
      items: [
        expect.objectContaining({ id: "t_c" }),
        expect.objectContaining({ id: "t_d" }),
        expect.objectContaining({ id: "t_e" }),
      ],
      hasMore: false,
    });
    // A cursor that names no ticket is an empty page, not an error.
    expect(
      (await desk.listTickets({ status: "open", limit: 10, startingAfter: "t_none" }))._unsafeUnwrap(),
    ).toEqual({ items: [], hasMore: false });
    const again = (
      await desk.resolveTicket("t_b", { by: "other", note: "again", at: T + 2 })
    )._unsafeUnwrap();
    expect(again).toMatchObject({
      outcome: "already_resolved",
      ticket: { resolvedBy: "ops", resolution: "done" },
    });
    expect((await desk.resolveTicket("t_none", { by: "ops", note: "x", at: T }))._unsafeUnwrap()).toEqual({
      outcome: "not_found",
    });
  });

  it("pages a round's transactions that happened at the same time once each, by id", async () => {
    const ledger = new PrismaLedgerStore(db.prisma);
    const members = ["m3", "m1", "m5", "m2", "m4"];
    for (const m of members)
      (
        await ledger.post(
          debitInitiated({
            id: `tx:${m}`,
            roundId: "r_tie",
            memberId: m,
            amount: money(1_00, "AUD"),
            occurredAt: T,
          })._unsafeUnwrap(),
        )
      )._unsafeUnwrap();
    const seen = await pages(async (startingAfter) => {
      const page = (
        await ledger.transactionsOfRounds(["r_tie"], {
          limit: 2,
          ...(startingAfter !== undefined ? { startingAfter } : {}),
        })
      )._unsafeUnwrap();
      return { items: page.items.map((i) => i.transaction), hasMore: page.hasMore };
    });
    expect(seen).toEqual(members.map((m) => `tx:${m}`).sort());
    const balances = (await ledger.balancesOfRounds(["r_tie", "r_none"]))._unsafeUnwrap();
    expect(balances.find((b) => b.account === "round:r_tie:in_flight")?.balance).toEqual(money(5_00, "AUD"));
    expect((await ledger.balancesOfRounds([]))._unsafeUnwrap()).toEqual([]);
  });
});
