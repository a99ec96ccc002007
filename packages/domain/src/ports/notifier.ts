import type { ResultAsync } from "neverthrow";
import type { AggregateRef } from "../kernel/aggregate-ref.js";
import type { PersonId } from "../person/ids.js";
import type { NotificationTemplate } from "../round/round-effect.js";

/**
 * A message to people, already resolved to person ids, about one aggregate
 * (`aggregate`, `aggregateId`).
 */
export type Notification = AggregateRef & {
  /** Stable id (the effect id): a notifier sends each id at most once. */
  readonly id: string;
  /** The group whose members it was resolved from, when it went to a group's members. */
  readonly groupId?: string;
  /** Who receives it: people's ids (a group member's id is their person's id). */
  readonly personIds: readonly PersonId[];
  readonly template: NotificationTemplate;
  readonly data: Readonly<Record<string, string | number>>;
};

/** Why a notification could not be sent; the dispatcher retries it. */
export type NotifyError = {
  readonly type: "notify_failed";
  readonly code: "notify_failed";
  readonly message: string;
};

/** Sends notifications (e-mail, push, …). */
export interface Notifier {
  send(notification: Notification): ResultAsync<void, NotifyError>;
}
