export type { PersonId } from "./ids.js";
export { type PersonError, personError } from "./person.errors.js";
export {
  createPerson,
  type DebitMandate,
  type MemberReadiness,
  type NewPerson,
  NOT_READY,
  type PayoutAccount,
  PERSON_ID_MAX,
  PERSON_TEXT_MAX,
  type Person,
  type PersonPaymentUpdate,
  personReadiness,
  samePerson,
  updatePersonPayment,
  updatePersonReadiness,
} from "./person.js";
export { personKeys } from "./person-keys.js";
