export { CADENCES, type Cadence, roundOpensAt } from "./cadence.js";
export { type GroupError, groupError } from "./group.errors.js";
export {
  acceptSwap,
  activateGroup,
  contributingMembers,
  createGroup,
  drawGroupPayoutOrder,
  findMember,
  type Group,
  type GroupStatus,
  joinGroup,
  leaveGroup,
  MEMBERS_MAX,
  MEMBERS_MIN,
  type Member,
  type MemberStatus,
  markRoundEnded,
  markRoundOpened,
  type NewGroup,
  nextRecipient,
  nextRoundOpensAt,
  type PositionSwap,
  pauseGroup,
  proposeSwap,
  type RotationProgress,
  reassignPosition,
  resumeGroup,
  setFixedPayoutOrder,
  usePayoutOrderMethod,
} from "./group.js";
export type { GroupId, MemberId } from "./ids.js";
export type { ReadinessOf } from "./member-readiness.js";
export {
  drawPayoutOrder,
  isPermutationOf,
  PAYOUT_ORDER_METHODS,
  type PayoutOrder,
  type PayoutOrderMethod,
} from "./payout-order.js";
