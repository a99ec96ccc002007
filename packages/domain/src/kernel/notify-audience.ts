import type { GroupId, MemberId } from "../group/ids.js";
import type { PersonId } from "../person/ids.js";

/** Who in a group a message is for; resolved against the group's members when it is sent. */
export type GroupAudience =
  | { readonly kind: "member"; readonly memberId: MemberId }
  | { readonly kind: "admins" }
  | { readonly kind: "all_members" };

/**
 * Who a notification is for: some of a group's members (the round's audiences), people
 * named by id, a held payment's customer (known by e-mail address only: a client app's
 * customer is not a susu person), a seller (a person), or the platform's admins (whom the
 * notifier resolves: the domain does not know who they are). Another audience is another
 * arm here and another case where notifications are resolved (`executeEffect`).
 */
export type NotifyAudience =
  | { readonly kind: "group"; readonly groupId: GroupId; readonly members: GroupAudience }
  | { readonly kind: "people"; readonly personIds: readonly PersonId[] }
  | { readonly kind: "customer"; readonly email: string }
  | { readonly kind: "seller"; readonly sellerId: PersonId }
  | { readonly kind: "platform_admins" };

/** Audiences the notifier resolves itself, by role: nobody in susu's stores names them. */
export const NOTIFY_ROLES = ["platform_admins"] as const;

/** One of {@link NOTIFY_ROLES}. */
export type NotifyRole = (typeof NOTIFY_ROLES)[number];
