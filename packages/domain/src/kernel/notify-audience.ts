import type { GroupId, MemberId } from "../group/ids.js";
import type { PersonId } from "../person/ids.js";

/** Who in a group a message is for; resolved against the group's members when it is sent. */
export type GroupAudience =
  | { readonly kind: "member"; readonly memberId: MemberId }
  | { readonly kind: "admins" }
  | { readonly kind: "all_members" };

/**
 * Who a notification is for: some of a group's members (the round's audiences), or people
 * named by id (a buyer and a seller have no group). Another audience (e.g. the platform's
 * operators) is another arm here and another case where notifications are resolved.
 */
export type NotifyAudience =
  | { readonly kind: "group"; readonly groupId: GroupId; readonly members: GroupAudience }
  | { readonly kind: "people"; readonly personIds: readonly PersonId[] };
