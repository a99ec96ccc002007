import { randomBytes } from "node:crypto";
import type { StorageError } from "@susu/domain";
import { ResultAsync } from "neverthrow";
import type { PrismaClient } from "../db/prisma-client.js";
import type { Prisma } from "../prisma/generated/client.js";
import { storageErrorOf } from "../prisma/storage-errors.js";
import { newEndpointSecret } from "./susu-signature.js";

/** A client app's webhook endpoint, without its secret. */
export interface NotificationEndpointRecord {
  readonly id: string;
  readonly url: string;
  readonly description?: string;
  readonly status: "enabled" | "disabled";
  /** Epoch ms. */
  readonly createdAt: number;
  readonly disabledAt?: number;
  /** Why it is disabled: by an admin, or on its own after failing every send for too long. */
  readonly disabledReason?: "admin" | "failing";
  /** Since when (epoch ms) every send to it has failed; absent while it answers. */
  readonly failingSince?: number;
  readonly rotatedAt?: number;
  /** Until when (epoch ms) the secret before the last rotation still signs requests too. */
  readonly previousSecretExpiresAt?: number;
}

/** An endpoint with its signing secret: what creating or rotating answers, once. */
export interface NotificationEndpointWithSecret extends NotificationEndpointRecord {
  readonly secret: string;
}

/** One delivery of a notification, as operators read the log. */
export interface NotificationDeliveryRecord {
  readonly id: string;
  readonly notificationId: string;
  readonly template: string;
  readonly channel: "email" | "webhook";
  /** The e-mail address (masked when listed to operators by the API) or the endpoint's id. */
  readonly recipient: string;
  readonly personId?: string;
  readonly endpointId?: string;
  readonly status: "queued" | "sent" | "retrying" | "failed" | "bounced" | "withdrawn";
  readonly attempts: number;
  readonly lastError?: string;
  readonly lastStatusCode?: number;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly nextAttemptAt?: number;
  readonly sentAt?: number;
}

/** Which deliveries a listing returns: newest first, `limit` after the cursor. */
export interface DeliveryQuery {
  readonly endpointId?: string;
  readonly status?: NotificationDeliveryRecord["status"];
  readonly limit: number;
  /** The id of the last delivery of the previous page; an unknown id is an empty page. */
  readonly startingAfter?: string;
}

/** A page of a listing. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly hasMore: boolean;
}

/** The webhook endpoints, from the platform admins' side. */
export interface NotificationEndpointStore {
  create(input: {
    readonly url: string;
    readonly description?: string;
    readonly at: number;
  }): ResultAsync<NotificationEndpointWithSecret, StorageError>;
  list(limit: number, startingAfter?: string): ResultAsync<Page<NotificationEndpointRecord>, StorageError>;
  get(id: string): ResultAsync<NotificationEndpointRecord | undefined, StorageError>;
  /** Stops deliveries to it (those queued are failed at their next claim); undefined: no such endpoint. */
  disable(id: string, at: number): ResultAsync<NotificationEndpointRecord | undefined, StorageError>;
  /**
   * Sends to it again, from the next notification (deliveries that failed while it was
   * disabled are not sent again); its failures so far are forgotten. Undefined: no such endpoint.
   */
  enable(id: string, at: number): ResultAsync<NotificationEndpointRecord | undefined, StorageError>;
  /**
   * A new secret from now on; the old one keeps signing requests beside it for
   * `previousValidForMs` (0: it signs nothing more). Undefined: no such endpoint.
   */
  rotateSecret(
    id: string,
    at: number,
    previousValidForMs: number,
  ): ResultAsync<NotificationEndpointWithSecret | undefined, StorageError>;
}

/** The delivery log, from the operators' side. */
export interface NotificationDeliveryLog {
  listDeliveries(query: DeliveryQuery): ResultAsync<Page<NotificationDeliveryRecord>, StorageError>;
}

type EndpointRow = Prisma.NotificationEndpointGetPayload<object>;

function endpointOf(row: EndpointRow): NotificationEndpointRecord {
  return {
    id: row.id,
    url: row.url,
    ...(row.description !== null ? { description: row.description } : {}),
    status: row.status,
    createdAt: row.createdAt.getTime(),
    ...(row.disabledAt !== null ? { disabledAt: row.disabledAt.getTime() } : {}),
    ...(row.disabledReason !== null ? { disabledReason: row.disabledReason } : {}),
    ...(row.failingSince !== null ? { failingSince: row.failingSince.getTime() } : {}),
    ...(row.rotatedAt !== null ? { rotatedAt: row.rotatedAt.getTime() } : {}),
    ...(row.previousSecretExpiresAt !== null
      ? { previousSecretExpiresAt: row.previousSecretExpiresAt.getTime() }
      : {}),
  };
}

const withSecret = (row: EndpointRow): NotificationEndpointWithSecret => ({
  ...endpointOf(row),
  secret: row.secret,
});

const DELIVERY_SELECT = {
  id: true,
  notificationId: true,
  channel: true,
  recipient: true,
  personId: true,
  endpointId: true,
  status: true,
  attempts: true,
  lastError: true,
  lastStatusCode: true,
  createdAt: true,
  updatedAt: true,
  nextAttemptAt: true,
  sentAt: true,
  notification: { select: { template: true } },
} as const;

type DeliveryRow = Prisma.NotificationDeliveryGetPayload<{ select: typeof DELIVERY_SELECT }>;

function deliveryOf(row: DeliveryRow): NotificationDeliveryRecord {
  const due = row.status === "queued" || row.status === "retrying";
  return {
    id: row.id,
    notificationId: row.notificationId,
    template: row.notification.template,
    channel: row.channel,
    recipient: row.recipient,
    ...(row.personId !== null ? { personId: row.personId } : {}),
    ...(row.endpointId !== null ? { endpointId: row.endpointId } : {}),
    status: row.status,
    attempts: row.attempts,
    ...(row.lastError !== null ? { lastError: row.lastError } : {}),
    ...(row.lastStatusCode !== null ? { lastStatusCode: row.lastStatusCode } : {}),
    createdAt: row.createdAt.getTime(),
    updatedAt: row.updatedAt.getTime(),
    ...(due ? { nextAttemptAt: row.nextAttemptAt.getTime() } : {}),
    ...(row.sentAt !== null ? { sentAt: row.sentAt.getTime() } : {}),
  };
}

/** Endpoints and the delivery log in PostgreSQL. */
export class PrismaNotificationEndpoints implements NotificationEndpointStore, NotificationDeliveryLog {
  constructor(private readonly prisma: PrismaClient) {}

  create(input: { readonly url: string; readonly description?: string; readonly at: number }) {
    const at = new Date(input.at);
    return ResultAsync.fromPromise(
      this.prisma.notificationEndpoint.create({
        data: {
          id: `ne_${randomBytes(12).toString("hex")}`,
          url: input.url,
          description: input.description ?? null,
          secret: newEndpointSecret(),
          createdAt: at,
          updatedAt: at,
        },
      }),
      (e) => storageErrorOf(e, { operation: "create a notification endpoint" }),
    ).map(withSecret);
  }

  list(limit: number, startingAfter?: string) {
    return ResultAsync.fromPromise(
      (async () => {
        let cursor: { createdAt: Date; id: string } | undefined;
        if (startingAfter !== undefined) {
          const after = await this.prisma.notificationEndpoint.findUnique({ where: { id: startingAfter } });
          if (after === null) return { items: [], hasMore: false };
          cursor = { createdAt: after.createdAt, id: after.id };
        }
        const rows = await this.prisma.notificationEndpoint.findMany({
          where:
            cursor === undefined
              ? {}
              : {
                  OR: [
                    { createdAt: { gt: cursor.createdAt } },
                    { createdAt: cursor.createdAt, id: { gt: cursor.id } },
                  ],
                },
          orderBy: [{ createdAt: "asc" }, { id: "asc" }],
          take: limit + 1,
        });
        return { items: rows.slice(0, limit).map(endpointOf), hasMore: rows.length > limit };
      })(),
      (e) => storageErrorOf(e, { operation: "list notification endpoints" }),
    );
  }

  get(id: string) {
    return ResultAsync.fromPromise(this.prisma.notificationEndpoint.findUnique({ where: { id } }), (e) =>
      storageErrorOf(e, { operation: "read a notification endpoint" }),
    ).map((row) => (row === null ? undefined : endpointOf(row)));
  }

  disable(id: string, at: number) {
    return ResultAsync.fromPromise(
      this.prisma.$transaction(async (tx) => {
        const row = await tx.notificationEndpoint.findUnique({ where: { id } });
        if (row === null) return undefined;
        if (row.status === "disabled") return row;
        return tx.notificationEndpoint.update({
          where: { id },
          data: {
            status: "disabled",
            disabledAt: new Date(at),
            disabledReason: "admin",
            updatedAt: new Date(at),
          },
        });
      }),
      (e) => storageErrorOf(e, { operation: "disable a notification endpoint" }),
    ).map((row) => (row === undefined ? undefined : endpointOf(row)));
  }

  enable(id: string, at: number) {
    return ResultAsync.fromPromise(
      this.prisma.$transaction(async (tx) => {
        const row = await tx.notificationEndpoint.findUnique({ where: { id } });
        if (row === null) return undefined;
        if (row.status === "enabled") return row;
        return tx.notificationEndpoint.update({
          where: { id },
          data: {
            status: "enabled",
            disabledAt: null,
            disabledReason: null,
            failingSince: null,
            updatedAt: new Date(at),
          },
        });
      }),
      (e) => storageErrorOf(e, { operation: "enable a notification endpoint" }),
    ).map((row) => (row === undefined ? undefined : endpointOf(row)));
  }

  rotateSecret(id: string, at: number, previousValidForMs: number) {
    return ResultAsync.fromPromise(
      this.prisma.$transaction(async (tx) => {
        const row = await tx.notificationEndpoint.findUnique({ where: { id } });
        if (row === null) return undefined;
        const keep = previousValidForMs > 0;
        return tx.notificationEndpoint.update({
          where: { id },
          data: {
            secret: newEndpointSecret(),
            previousSecret: keep ? row.secret : null,
            previousSecretExpiresAt: keep ? new Date(at + previousValidForMs) : null,
            rotatedAt: new Date(at),
            updatedAt: new Date(at),
          },
        });
      }),
      (e) => storageErrorOf(e, { operation: "rotate a notification endpoint's secret" }),
    ).map((row) => (row === undefined ? undefined : withSecret(row)));
  }

  listDeliveries(query: DeliveryQuery) {
    return ResultAsync.fromPromise(
      (async () => {
        const where: Prisma.NotificationDeliveryWhereInput = {
          ...(query.endpointId !== undefined ? { endpointId: query.endpointId } : {}),
          ...(query.status !== undefined ? { status: query.status } : {}),
        };
        let cursor: Prisma.NotificationDeliveryWhereInput = {};
        if (query.startingAfter !== undefined) {
          // The cursor marks a place, found whatever its delivery's status is now: one that
          // left the status between two pages (a retry that was sent) must not end the
          // listing. Its endpoint never changes, so a cursor of another endpoint is no place.
          const after = await this.prisma.notificationDelivery.findFirst({
            where: {
              id: query.startingAfter,
              ...(query.endpointId !== undefined ? { endpointId: query.endpointId } : {}),
            },
            select: { id: true, createdAt: true },
          });
          if (after === null) return { items: [], hasMore: false };
          cursor = {
            OR: [
              { createdAt: { lt: after.createdAt } },
              { createdAt: after.createdAt, id: { lt: after.id } },
            ],
          };
        }
        const rows = await this.prisma.notificationDelivery.findMany({
          where: { AND: [where, cursor] },
          select: DELIVERY_SELECT,
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
          take: query.limit + 1,
        });
        return { items: rows.slice(0, query.limit).map(deliveryOf), hasMore: rows.length > query.limit };
      })(),
      (e) => storageErrorOf(e, { operation: "list notification deliveries" }),
    );
  }
}
