import { err, ok, type Result } from "neverthrow";
import { clipText, textLength, textLengthWithin } from "../kernel/text.js";
import type { Instant } from "../shared/time.js";
import type { PersonId } from "./ids.js";
import { type PersonError, personError } from "./person.errors.js";

/** The longest display name a person may have. */
export const PERSON_TEXT_MAX = 100;

/**
 * The longest id a person may have: their id is the subject of the tokens they call with,
 * which identity providers make up to 255 characters (`auth0|…`, e-mail addresses).
 */
export const PERSON_ID_MAX = 255;

/**
 * What someone needs before money can move for them in a group. Derived from the person
 * ({@link personReadiness}), so one change at Stripe is one change here, seen by every
 * group the person is in.
 */
export interface MemberReadiness {
  /** Their BECS debit mandate is active, so contributions can be collected. */
  readonly mandateActive: boolean;
  /** Their connected account can receive transfers, so they can be paid the pot. */
  readonly payoutsEnabled: boolean;
}

/** A saved BECS Direct Debit: the payment method, the mandate that authorises debits, and its state. */
export interface DebitMandate {
  readonly paymentMethodId: string;
  readonly mandateId: string;
  /** Stripe reports the mandate active: debits with it can be made. */
  readonly mandateActive: boolean;
}

/** Which Stripe object a readiness report is about; absent: whichever the person has. */
export interface ReadinessSubject {
  readonly mandateId?: string;
  readonly connectedAccountId?: string;
}

/** The connected (Express) account a person is paid into. */
export interface PayoutAccount {
  readonly connectedAccountId: string;
  /** Stripe reports the account can receive transfers and pay out. */
  readonly payoutsEnabled: boolean;
}

/**
 * A person: who authenticated requests are made by, and who owns the Stripe objects money
 * moves with — one customer, their debit mandate, and one connected account — reused by
 * every group they join (and later by bookings and sales). Absent objects are not created
 * yet.
 */
export interface Person {
  readonly id: PersonId;
  readonly displayName: string;
  /** The Stripe customer that owns the person's payment methods and mandates. */
  readonly customerId?: string;
  /**
   * When a Stripe customer was first asked for for the person (recorded before the request
   * is sent); absent: never. A later request under the same key is a retry whose earlier
   * attempt may have reached Stripe, so the provider looks for the customer it made.
   */
  readonly customerRequestedAt?: Instant;
  readonly debit?: DebitMandate;
  readonly payout?: PayoutAccount;
  readonly createdAt: Instant;
  /** Optimistic-concurrency version, incremented by every stored change. */
  readonly version: number;
}

/** What it takes to create a person. */
export interface NewPerson {
  readonly id: PersonId;
  readonly displayName: string;
  readonly createdAt: Instant;
}

/** The Stripe objects to record for a person; absent fields stay as they are. */
export interface PersonPaymentUpdate {
  readonly customerId?: string;
  /** When a customer was asked for; only the first such instant is kept. */
  readonly customerRequestedAt?: Instant;
  /** A new mandate replaces the previous one (the set-up that made it superseded it). */
  readonly debit?: DebitMandate;
  /**
   * The person's connected account. Payouts start disabled for a new account (Stripe says
   * when they are enabled); recording the account already held keeps its state.
   */
  readonly connectedAccountId?: string;
}

const validText = (value: string): boolean => textLengthWithin(value, 1, PERSON_TEXT_MAX);

/**
 * Creates a person with no Stripe objects yet. The display name falls back to the id (its
 * first {@link PERSON_TEXT_MAX} characters).
 */
export function createPerson(input: NewPerson): Result<Person, PersonError> {
  if (!textLengthWithin(input.id, 1, PERSON_ID_MAX))
    return err(personError("invalid_person", `a person id must be 1–${PERSON_ID_MAX} characters`));
  const displayName = input.displayName.trim() || clipText(input.id, PERSON_TEXT_MAX);
  if (textLength(displayName) > PERSON_TEXT_MAX)
    return err(personError("invalid_person", `a display name must be at most ${PERSON_TEXT_MAX} characters`));
  return ok({ id: input.id, displayName, createdAt: input.createdAt, version: 0 });
}

/** What the person is ready for, from their mandate and payout account. */
export function personReadiness(person: Person): MemberReadiness {
  return {
    mandateActive: person.debit?.mandateActive ?? false,
    payoutsEnabled: person.payout?.payoutsEnabled ?? false,
  };
}

/** Nobody is ready before they have onboarded; also the readiness of someone unknown. */
export const NOT_READY: MemberReadiness = { mandateActive: false, payoutsEnabled: false };

/** Records the person's Stripe objects (customer, debit mandate, connected account). */
export function updatePersonPayment(
  person: Person,
  update: PersonPaymentUpdate,
): Result<Person, PersonError> {
  const ids = [
    update.customerId,
    update.debit?.paymentMethodId,
    update.debit?.mandateId,
    update.connectedAccountId,
  ];
  if (ids.some((id) => id !== undefined && !validText(id)))
    return err(personError("invalid_person", "Stripe ids must be 1–100 characters"));
  let next: Person = person;
  if (update.customerId !== undefined) next = { ...next, customerId: update.customerId };
  if (update.customerRequestedAt !== undefined && next.customerRequestedAt === undefined)
    next = { ...next, customerRequestedAt: update.customerRequestedAt };
  if (update.debit !== undefined) next = { ...next, debit: { ...update.debit } };
  if (
    update.connectedAccountId !== undefined &&
    next.payout?.connectedAccountId !== update.connectedAccountId
  )
    next = { ...next, payout: { connectedAccountId: update.connectedAccountId, payoutsEnabled: false } };
  return ok(next);
}

/**
 * Records what the person is ready for, as Stripe reports it. Readiness belongs to a
 * mandate or an account, so it cannot be granted to one the person does not have;
 * withdrawing it from one they do not have changes nothing.
 */
export function updatePersonReadiness(
  person: Person,
  readiness: Partial<MemberReadiness>,
  about: ReadinessSubject = {},
): Result<Person, PersonError> {
  let next: Person = person;
  // News about a mandate or account the person no longer uses (replaced since the news was
  // looked up) says nothing about the one they use now.
  const sameMandate = about.mandateId === undefined || person.debit?.mandateId === about.mandateId;
  const sameAccount =
    about.connectedAccountId === undefined || person.payout?.connectedAccountId === about.connectedAccountId;
  if (readiness.mandateActive !== undefined && sameMandate) {
    if (next.debit !== undefined)
      next = { ...next, debit: { ...next.debit, mandateActive: readiness.mandateActive } };
    else if (readiness.mandateActive)
      return err(personError("no_debit_mandate", `${person.id} has no debit mandate to activate`));
  }
  if (readiness.payoutsEnabled !== undefined && sameAccount) {
    if (next.payout !== undefined)
      next = { ...next, payout: { ...next.payout, payoutsEnabled: readiness.payoutsEnabled } };
    else if (readiness.payoutsEnabled)
      return err(personError("no_payout_account", `${person.id} has no connected account to enable`));
  }
  return ok(next);
}

/** Whether two states of a person hold the same facts (versions aside). */
export function samePerson(a: Person, b: Person): boolean {
  return (
    a.id === b.id &&
    a.displayName === b.displayName &&
    a.customerId === b.customerId &&
    a.customerRequestedAt === b.customerRequestedAt &&
    a.debit?.paymentMethodId === b.debit?.paymentMethodId &&
    a.debit?.mandateId === b.debit?.mandateId &&
    a.debit?.mandateActive === b.debit?.mandateActive &&
    a.payout?.connectedAccountId === b.payout?.connectedAccountId &&
    a.payout?.payoutsEnabled === b.payout?.payoutsEnabled &&
    a.createdAt === b.createdAt
  );
}
