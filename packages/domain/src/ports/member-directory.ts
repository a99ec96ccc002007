import type { ResultAsync } from "neverthrow";
import type { GroupId, MemberId } from "../group/ids.js";
import type { StorageError } from "./storage.js";

/** A member of one group (member ids are unique within their group only). */
export interface MemberRef {
  readonly groupId: GroupId;
  readonly memberId: MemberId;
}

/**
 * Finds who owns a Stripe object. Account and mandate events name only the object, and
 * one person may reuse a customer or connected account in several groups, so each lookup
 * can return several members. Members who left are not returned: nothing to update.
 */
export interface MemberDirectory {
  byConnectedAccount(accountId: string): ResultAsync<readonly MemberRef[], StorageError>;
  byMandate(mandateId: string): ResultAsync<readonly MemberRef[], StorageError>;
  byCustomer(customerId: string): ResultAsync<readonly MemberRef[], StorageError>;
}
