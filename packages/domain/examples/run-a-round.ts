// Another team's code running a savings round entirely in memory. In this repository:
// `npm run build -w @susu/domain`, then `npx tsx packages/domain/examples/run-a-round.ts`.
import { DAY_MS, formatMoney, money, roundMoney, useCases } from "@susu/domain";
import { InMemorySusu } from "@susu/domain/testing";

const sim = new InMemorySusu();
const { deps } = sim;

const group = (
  await useCases.createGroup(deps, {
    name: "Friday savers",
    currency: "AUD",
    contributionMinor: 100_00, // 100.00 AUD each, every week
    cadence: "weekly",
    startsAt: sim.clock.now() + DAY_MS,
    payoutOrderMethod: "join_order",
    creator: { id: "ana", displayName: "Ana" },
  })
)._unsafeUnwrap();
await useCases.joinGroup(deps, group.id, { id: "ben", displayName: "Ben" });
await useCases.joinGroup(deps, group.id, { id: "cy", displayName: "Cy" });
for (const id of ["ana", "ben", "cy"]) await sim.onboardPerson(id); // mandate + payout account, once per person
await useCases.activateGroup(deps, group.id, "ana");

await sim.advance(DAY_MS);
const opened = (await useCases.startRound(deps, group.id, { memberId: "ana" }))._unsafeUnwrap();
await sim.advance(4 * DAY_MS); // BECS debits settle after ~3 days, then the pot is paid out

const round = (await sim.store.getRound(opened.state.id))._unsafeUnwrap();
const books = roundMoney(sim.ledger.snapshot(), opened.state.id, "AUD");
console.log(`round ${round?.id}: ${round?.status}, paid to ${round?.recipientMemberId}`);
// → round round_grp_1_r1_s0: paid_out, paid to ana
console.log(`paid out ${formatMoney(money(books.paidOutMinor, "AUD"))}`);
// → paid out 300.00 AUD
console.log(`still held ${formatMoney(money(books.heldMinor, "AUD"))}`);
// → still held 0.00 AUD
