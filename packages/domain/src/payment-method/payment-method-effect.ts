import type { EffectAddress, NotifyEffect, OpenTicketEffect } from "../kernel/effect-address.js";
import type { NotifyAudience } from "../kernel/notify-audience.js";

/** The name saved payment methods' effects carry as their aggregate (a projection that makes effects). */
export const PAYMENT_METHOD_AGGREGATE = "payment_method";

/** The messages about saved payment methods; the notifier renders each one. */
export const PAYMENT_METHOD_NOTIFICATION_TEMPLATES = [
  /**
   * To the person: the debit a round relies on was removed at the provider; save a new one. Or,
   * with `movedTo`: their debit was removed (at the provider, or by them, `removedBy: "person"`)
   * and rounds debit their other working account now.
   */
  "payment_method_detached",
  /** To a group's admins: a member's debit was removed at the provider; their contribution may fail. */
  "member_payment_method_detached",
  /** To the person: the bank or the provider made a mandate inactive; set up the account again. */
  "mandate_inactive",
  /**
   * To the person: the card their membership is charged on was removed at the provider. With
   * `movedTo`: the membership is charged on their other saved card now; without: save a card
   * before the next invoice, or it cannot be paid.
   */
  "membership_card_detached",
] as const;

/** One of {@link PAYMENT_METHOD_NOTIFICATION_TEMPLATES}. */
export type PaymentMethodNotificationTemplate = (typeof PAYMENT_METHOD_NOTIFICATION_TEMPLATES)[number];

/** Why a saved payment method opened a support ticket. */
export const PAYMENT_METHOD_TICKET_REASONS = ["payment_method_detached"] as const;

/** One of {@link PAYMENT_METHOD_TICKET_REASONS}. */
export type PaymentMethodTicketReason = (typeof PAYMENT_METHOD_TICKET_REASONS)[number];

/**
 * What saved payment methods ask the outside world to do: detach a method at the provider,
 * make one the customer's default there, tell people, open tickets. Ids come from
 * `paymentMethodIds`; the provider calls carry them as idempotency keys.
 */
export type PaymentMethodEffect =
  | (EffectAddress<typeof PAYMENT_METHOD_AGGREGATE> & {
      readonly kind: "detach_payment_method";
      readonly paymentMethodId: string;
    })
  | (EffectAddress<typeof PAYMENT_METHOD_AGGREGATE> & {
      readonly kind: "set_default_payment_method";
      readonly customerId: string;
      readonly paymentMethodId: string;
    })
  | NotifyEffect<
      typeof PAYMENT_METHOD_AGGREGATE,
      PaymentMethodNotificationTemplate,
      Extract<NotifyAudience, { kind: "people" | "group" }>
    >
  | (OpenTicketEffect<typeof PAYMENT_METHOD_AGGREGATE, PaymentMethodTicketReason> & {
      readonly groupId?: string;
    });
