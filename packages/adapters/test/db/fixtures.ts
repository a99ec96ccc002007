import type { PrismaClient } from "../../src/db/prisma-client.js";

// Fixed instants: the rows' timestamps come from the caller (the domain's Clock), not the database.
export const at = new Date("2026-01-05T00:00:00.000Z");

/** A group with two members and a collecting round paying the first one; ids are prefixed to stay unique. */
export async function seedRound(prisma: PrismaClient, prefix: string) {
  const groupId = `${prefix}_grp`;
  const alice = `${prefix}_mem_alice`;
  const bob = `${prefix}_mem_bob`;
  const roundId = `${prefix}_rnd_1`;
  // Members are people: their rows come first (members.id references people.id).
  await prisma.person.createMany({
    data: [alice, bob].map((id) => ({
      id,
      displayName: id,
      becsPaymentMethodId: `pm_${id}`,
      mandateId: `mandate_${id}`,
      mandateActive: true,
      connectedAccountId: `acct_${id}`,
      payoutsEnabled: true,
      createdAt: at,
      updatedAt: at,
    })),
  });
  await prisma.group.create({
    data: {
      id: groupId,
      name: "Savers",
      currency: "AUD",
      contributionAmountMinor: 10_000n,
      cadence: "monthly",
      startsAt: at,
      payoutOrderMethod: "join_order",
      status: "active",
      rotationNumber: 1,
      rotationsPlanned: 1,
      nextRoundAt: at,
      // The columns are projections of the snapshot; a CHECK ties its id and version to the row's.
      snapshot: { id: groupId, version: 0 },
      createdAt: at,
      updatedAt: at,
      members: {
        create: [alice, bob].map((id, position) => ({
          id,
          displayName: id,
          role: position === 0 ? "admin" : "member",
          status: "active",
          rotationPosition: position,
          joinedAt: at,
        })),
      },
    },
  });
  await prisma.round.create({
    data: {
      id: roundId,
      groupId,
      sequence: 0,
      rotation: 1,
      recipientMemberId: alice,
      state: "collecting",
      currency: "AUD",
      contributionAmountMinor: 10_000n,
      scheduledFor: at,
      collectionDeadlineAt: new Date("2026-01-12T00:00:00.000Z"),
      transferGroup: `${roundId}_tg`,
      snapshot: { id: roundId, version: 0, status: "collecting" },
      createdAt: at,
      updatedAt: at,
    },
  });
  await prisma.contribution.create({
    data: {
      roundId,
      groupId,
      memberId: bob,
      currency: "AUD",
      amountMinor: 10_000n,
      status: "processing",
      attemptsCount: 1,
    },
  });
  return { groupId, alice, bob, roundId };
}
