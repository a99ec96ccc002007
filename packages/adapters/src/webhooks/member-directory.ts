import type { Group, StorageError } from "@susu/domain";
import { okAsync, type ResultAsync } from "neverthrow";
import type { PrismaClient } from "../db/prisma-client.js";
import { fromDatabase } from "../prisma/storage-errors.js";

/** A member of one group (member ids are unique within their group only). */
export interface MemberRef {
  readonly groupId: string;
  readonly memberId: string;
}

/**
 * Finds the members a Stripe object belongs to. Account and mandate events name only the
 * Stripe object, and one person may reuse a customer or connected account in several
 * groups, so each lookup can return several members.
 */
export interface MemberDirectory {
  byConnectedAccount(accountId: string): ResultAsync<readonly MemberRef[], StorageError>;
  byMandate(mandateId: string): ResultAsync<readonly MemberRef[], StorageError>;
  byCustomer(customerId: string): ResultAsync<readonly MemberRef[], StorageError>;
}

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

/**
 * {@link MemberDirectory} that scans groups held in memory (the domain's `InMemoryStore`):
 * for tests and single-process set-ups without the members projection.
 */
export class GroupScanMemberDirectory implements MemberDirectory {
  constructor(private readonly groups: () => Iterable<Group>) {}

  byConnectedAccount(accountId: string): ResultAsync<readonly MemberRef[], StorageError> {
    return okAsync(this.#scan((p) => p.connectedAccountId === accountId));
  }

  byMandate(mandateId: string): ResultAsync<readonly MemberRef[], StorageError> {
    return okAsync(this.#scan((p) => p.mandateId === mandateId));
  }

  byCustomer(customerId: string): ResultAsync<readonly MemberRef[], StorageError> {
    return okAsync(this.#scan((p) => p.customerId === customerId));
  }

  #scan(matches: (payment: Group["members"][number]["payment"]) => boolean): MemberRef[] {
    const found: MemberRef[] = [];
    for (const group of this.groups())
      for (const m of group.members)
        if (m.status !== "left" && matches(m.payment)) found.push({ groupId: group.id, memberId: m.id });
    return found;
  }
}
