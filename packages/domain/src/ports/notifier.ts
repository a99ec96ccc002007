import type { ResultAsync } from "neverthrow";
import type { HeldPaymentNotificationTemplate } from "../held-payment/held-payment-effect.js";
import type { AggregateRef } from "../kernel/aggregate-ref.js";
import type { NotifyRole } from "../kernel/notify-audience.js";
import type { MarketplaceChargeNotificationTemplate } from "../marketplace/marketplace-charge-effect.js";
import type { SubscriptionNotificationTemplate } from "../membership/membership-effect.js";
import type { PaymentMethodNotificationTemplate } from "../payment-method/payment-method-effect.js";
import type { PayoutNotificationTemplate } from "../payout/payout-effect.js";
import type { PersonId } from "../person/ids.js";
import type { NotificationTemplate } from "../round/round-effect.js";

/**
 * What a notification about no aggregate is about: a period of the platform's reconciliation
 * with Stripe (the scheduler's daily job), `aggregateId` being the period's id (that of its
 * `reconciliation_differences` ticket). Addressed like an aggregate, so that the notifier's
 * deduplication key, the stored notification and the webhook body name it the same way.
 */
export interface ReconciliationRef {
  readonly aggregate: "reconciliation";
  readonly aggregateId: string;
}

/** Notices about no aggregate, for the platform's admins: a reconciliation period's differences. */
export type PlatformNotificationTemplate = "reconciliation_differences";

/**
 * A message about one aggregate (`aggregate`, `aggregateId`), or about a reconciliation
 * period, resolved as far as susu's stores can: to people's ids, to e-mail addresses of
 * recipients who are not people (a held payment's or marketplace charge's customer), and to
 * roles the notifier resolves itself (the platform's admins). At least one of the three names
 * someone.
 */
export type Notification = (AggregateRef | ReconciliationRef) & {
  /** Stable id (the effect id): a notifier sends each id at most once. */
  readonly id: string;
  /**
   * The support ticket the message is about, when its sender knows it and the ticket is about
   * no aggregate (a reconciliation period's): an admin alert links it. Absent: the alert links
   * the newest open ticket of the aggregate.
   */
  readonly ticketId?: string;
  /**
   * What makes two admin alerts the same, for the notifier's window that holds back an alert
   * like one sent shortly before; absent: its template and what it is about. A notice that
   * says something new about the same thing (a reconciliation period's later run) names its
   * own, so that no window holds it back.
   */
  readonly alertKey?: string;
  /** The group whose members it was resolved from, when it went to a group's members. */
  readonly groupId?: string;
  /** Who receives it: people's ids (a group member's id is their person's id). */
  readonly personIds: readonly PersonId[];
  /** Recipients known only by address (a client app's customer); absent: none. */
  readonly emails?: readonly string[];
  /** Recipients by role, whom the notifier looks up (`platform_admins`); absent: none. */
  readonly roles?: readonly NotifyRole[];
  readonly template:
    | NotificationTemplate
    | HeldPaymentNotificationTemplate
    | MarketplaceChargeNotificationTemplate
    | PayoutNotificationTemplate
    | PaymentMethodNotificationTemplate
    | SubscriptionNotificationTemplate
    | PlatformNotificationTemplate;
  readonly data: Readonly<Record<string, string | number>>;
};

/**
 * Why a notification could not be sent. `notify_failed`: for now (a server down, a
 * temporary refusal, or a refusal of the platform rather than of the recipient, which every
 * recipient would get): the dispatcher retries it. `notify_rejected`: for good (the server
 * refused the recipient): retrying would be refused again, so the effect is parked for an
 * operator.
 */
export type NotifyError =
  | { readonly type: "notify_failed"; readonly code: "notify_failed"; readonly message: string }
  | { readonly type: "notify_rejected"; readonly code: "notify_rejected"; readonly message: string };

/** Sends notifications (e-mail, push, …). */
export interface Notifier {
  send(notification: Notification): ResultAsync<void, NotifyError>;
}
