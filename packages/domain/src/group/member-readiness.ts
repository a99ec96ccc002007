import type { MemberReadiness } from "../person/person.js";
import type { MemberId } from "./ids.js";

/** Looks up what a member is ready for (from the person who is the member). */
export type ReadinessOf = (memberId: MemberId) => MemberReadiness;
