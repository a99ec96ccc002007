import type { Group, UnitOfWork } from "@susu/domain";
import { peopleOf } from "@susu/domain/testing";

/** Stores `group` and its people, all new, through `store` (a test's set-up). */
export async function storeNewGroup(store: Pick<UnitOfWork, "commit">, group: Group): Promise<void> {
  (
    await store.commit({
      people: peopleOf(group).map((state) => ({ state, expectedVersion: undefined })),
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
}
