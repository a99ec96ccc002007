export { CADENCES, type Cadence, roundOpensAt } from "./cadence.js";
export { type GroupError, groupError, membersNotReadyError } from "./group.errors.js";
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
  membersNotReady,
  type NewGroup,
  nextRecipient,
  nextRecipients,
  nextRoundOpensAt,
  type PositionSwap,
  pauseGroup,
  proposeSwap,
  type RotationProgress,
  reassignPosition,
  requireMembersReady,
  resumeGroup,
  setFixedPayoutOrder,
  usePayoutOrderMethod,
} from "./group.js";
export type { GroupId, MemberId } from "./ids.js";
export type { MemberNotReady, ReadinessGap, ReadinessOf } from "./member-readiness.js";
export {
  drawPayoutOrder,
  isPermutationOf,
  PAYOUT_ORDER_METHODS,
  type PayoutOrder,
  type PayoutOrderMethod,
} from "./payout-order.js";
