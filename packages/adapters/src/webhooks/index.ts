/**
 * Stripe webhooks, end to end: verify a delivery's signature on the raw body, store the
 * event in a durable inbox keyed by its id (a second delivery is a no-op), and process the
 * inbox later — translate each event, run the use case, retry failures with backoff and
 * jitter, park what keeps failing with a support ticket.
 *
 * @module
 */
export { EventCommits, type OpenCommitStore } from "./event-commits.js";
export { IGNORED_WEBHOOK_EVENT_TYPES, SUSU_WEBHOOK_EVENT_TYPES } from "./event-types.js";
export {
  type InboxEvent,
  type InboxEventSummary,
  type MarkResult,
  PrismaWebhookInbox,
  parkedWebhookTicketId,
  type WebhookEventStatus,
  type WebhookInbox,
  type WebhookInboxOperations,
  type WebhookRequeueOutcome,
} from "./inbox.js";
export {
  BatchingWebhookIngest,
  DEFAULT_WEBHOOK_INGEST_BATCHING,
  type ReceiveResult,
  receiveAll,
  WEBHOOK_EVENTS_CHANNEL,
  type WebhookIngestBatching,
} from "./ingest.js";
export {
  CARD_FAILURE_KEEP_MS,
  cardFailureBucket,
  type PaymentFailureRecorder,
  processWebhookEvent,
  type WebhookContext,
  type WebhookFailure,
  type WebhookGateway,
  type WebhookOutcome,
} from "./process-event.js";
export {
  DEFAULT_WEBHOOK_RETRY,
  processWebhookInbox,
  type SettledWebhookEvent,
  type SettledWebhookOutcome,
  type WebhookPassOptions,
  type WebhookPassReport,
  type WebhookProcessorContext,
} from "./process-inbox.js";
export { mayHoldUnstorable, storableInJsonb } from "./storable.js";
export { type IngestTriage, orderingKeyOf, triageAtIngest } from "./triage.js";
export {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  isStripeEventShaped,
  jsonTextNestedDeeperThan,
  verifyStripeWebhook,
  WEBHOOK_CREATED_MAX_SECONDS,
  WEBHOOK_JSON_DEPTH_MAX,
  type WebhookRejection,
} from "./verify.js";
