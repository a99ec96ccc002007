export { type ContextualSupportDesk, PrismaSupportDesk, type TicketContext } from "./prisma-support-desk.js";
