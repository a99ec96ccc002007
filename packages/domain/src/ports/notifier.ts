import type { ResultAsync } from "neverthrow";
import type { MemberId } from "../group/ids.js";
import type { NotificationTemplate } from "../round/round-effect.js";

/** A message to people, already resolved to member ids. */
export interface Notification {
  /** Stable id (the effect id): a notifier sends each id at most once. */
  readonly id: string;
  readonly groupId: string;
  readonly roundId?: string;
  readonly memberIds: readonly MemberId[];
  readonly template: NotificationTemplate;
  readonly data: Readonly<Record<string, string | number>>;
}

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
