import type { MemberDirectory, MemberRef, StorageError } from "@susu/domain";
import type { ResultAsync } from "neverthrow";
import type { PrismaClient } from "../db/prisma-client.js";
import { fromDatabase } from "../prisma/storage-errors.js";

/** The domain's port, re-exported where the webhook modules always found it. */
export type { MemberDirectory, MemberRef };

/**
 * {@link MemberDirectory} on the `members` projection (indexed on each of the three ids).
 * The projection is written in the same transaction as the group's snapshot, so it is
 * never behind a committed group.
 */
export class PrismaMemberDirectory implements MemberDirectory {
  constructor(private readonly prisma: PrismaClient) {}

  byConnectedAccount(accountId: string): ResultAsync<readonly MemberRef[], StorageError> {
    return this.#find({ connectedAccountId: accountId }, "members by connected account");
  }

  byMandate(mandateId: string): ResultAsync<readonly MemberRef[], StorageError> {
    return this.#find({ mandateId }, "members by mandate");
  }

  byCustomer(customerId: string): ResultAsync<readonly MemberRef[], StorageError> {
    return this.#find({ stripeCustomerId: customerId }, "members by customer");
  }

  #find(
    where: { connectedAccountId: string } | { mandateId: string } | { stripeCustomerId: string },
    operation: string,
  ): ResultAsync<readonly MemberRef[], StorageError> {
    return fromDatabase(
      () =>
        this.prisma.member.findMany({
          // Members who left are not asked to pay or paid any more: nothing to update.
          where: { ...where, status: { not: "left" } },
          select: { groupId: true, id: true },
          orderBy: [{ groupId: "asc" }, { id: "asc" }],
        }),
      operation,
    ).map((rows) => rows.map((r) => ({ groupId: r.groupId, memberId: r.id })));
  }
}
