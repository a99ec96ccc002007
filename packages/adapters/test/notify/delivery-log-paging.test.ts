// The operators' delivery log pages by status with a cursor found wherever its delivery is now:
// a delivery that left the status between two pages does not end the listing early.
import { describe, expect, it } from "vitest";
import { PrismaNotificationEndpoints } from "../../src/notify/notification-endpoints.js";
import { useTestDatabase } from "../support/index.js";

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);
const at = (i: number) => new Date(T0 - i * 1000);

describe("delivery log paging", () => {
  const db = useTestDatabase();

  it("pages on after a cursor whose delivery changed status since the last page", async () => {
    await db.prisma.notification.create({
      data: {
        id: "n1",
        template: "checkout_expired",
        aggregateType: "held_payment",
        aggregateId: "hp1",
        personIds: [],
        roles: [],
        data: {},
        createdAt: at(0),
      },
    });
    for (let i = 0; i < 4; i++)
      await db.prisma.notificationDelivery.create({
        data: {
          id: `nd_${i}`,
          notificationId: "n1",
          channel: "email",
          recipient: `p${i}@example.com`,
          status: "retrying",
          attempts: 1,
          nextAttemptAt: at(i),
          createdAt: at(i),
          updatedAt: at(i),
        },
      });
    const log = new PrismaNotificationEndpoints(db.prisma);
    const first = (await log.listDeliveries({ limit: 2, status: "retrying" }))._unsafeUnwrap();
    expect(first.items.map((d) => d.id)).toEqual(["nd_0", "nd_1"]);
    expect(first.hasMore).toBe(true);
    await db.prisma.notificationDelivery.update({ where: { id: "nd_1" }, data: { status: "sent" } });
    const second = (
      await log.listDeliveries({ limit: 2, status: "retrying", startingAfter: "nd_1" })
    )._unsafeUnwrap();
    expect(second.items.map((d) => d.id)).toEqual(["nd_2", "nd_3"]);
    expect(second.hasMore).toBe(false);
    // A cursor that names no delivery at all is still an empty page.
    expect(
      (await log.listDeliveries({ limit: 2, status: "retrying", startingAfter: "nd_none" }))._unsafeUnwrap(),
    ).toEqual({ items: [], hasMore: false });
  });
});
