// Notices queued by the commit that decides them.
//
// A `notify` effect carried out by the dispatcher costs its outbox row's claim, the notifier's
// statement that queues it, and the row's completion, each a write of its own, after the
// commit that stored the row. The notifier's work needs nothing outside PostgreSQL (the
// delivery worker sends later, from the delivery log), so, as with the ledger's postings, the
// commit that stores the state deciding a notice can queue it itself: the same notification
// and deliveries, planned the same way (DeliveringNotifier.planForCommit, from the same reads
// of people's settings and the enabled endpoints, made just before the commit) and written in
// the same statement, the outbox row stored done. The notice is then queued atomically with the
// state, and never without it.
//
// What stays with the dispatcher, as before: admin alerts (decided when sent: their window,
// their ticket's link), and any notice the plan could not be made for (a group that cannot be
// read, a read that failed): its row is stored pending and the dispatcher sends it, reporting
// what fails. A notice whose id the outbox holds already (decided before) is queued by the
// commit all the same (its rows' ids are derived from its own, so nothing is queued twice), and
// its pending row is carried out by the dispatcher, which finds it queued.
//
// What changes for operators: `susu_outbox_effects_settled_total{kind="notify"}` and the outbox
// depth no longer count notices queued in their commit. The delivery log (GET /v1/notifications
// and the deliveries' metrics) counts them as ever.
import type { GroupRepository, NotifyOutboxEffect, OutboxEffect } from "@susu/domain";
import { useCases } from "@susu/domain";
import type { DeliveringNotifier, PlannedNotice } from "./delivering-notifier.js";

/** Plans the notices a commit queues itself (see above). */
export interface NoticePlanner {
  /**
   * The plans of the `notify` effects among `effects` that the commit may queue, by effect
   * id; a group audience's members are read from `groups`.
   * Never fails: a notice it cannot plan is left out, to the dispatcher.
   */
  plan(
    effects: readonly OutboxEffect[],
    groups: Pick<GroupRepository, "getGroup">,
  ): Promise<ReadonlyMap<string, PlannedNotice>>;
}

/** The {@link NoticePlanner} of a {@link DeliveringNotifier}: what it would queue, planned for the commit. */
export class CommitNotices implements NoticePlanner {
  constructor(private readonly notifier: DeliveringNotifier) {}

  async plan(
    effects: readonly OutboxEffect[],
    groups: Pick<GroupRepository, "getGroup">,
  ): Promise<ReadonlyMap<string, PlannedNotice>> {
    const notices = effects.filter((e): e is NotifyOutboxEffect => e.kind === "notify");
    const planned = new Map<string, PlannedNotice>();
    if (notices.length === 0) return planned;
    // A decision's notices to one group's members (a round's: one each) read the group once.
    const read = new Map<string, ReturnType<GroupRepository["getGroup"]>>();
    const once: Pick<GroupRepository, "getGroup"> = {
      getGroup: (id) => {
        let group = read.get(id);
        if (group === undefined) {
          group = groups.getGroup(id);
          read.set(id, group);
        }
        return group;
      },
    };
    let results: Awaited<ReturnType<CommitNotices["planOne"]>>[];
    try {
      results = await Promise.all(notices.map((effect) => this.planOne(effect, once)));
    } catch {
      return planned; // a defect of a read's, not a reason to refuse the commit: the dispatcher sends them
    }
    results.forEach((result, i) => {
      const effect = notices[i];
      if (effect !== undefined && result.isOk() && result.value !== undefined)
        planned.set(effect.id, result.value);
    });
    return planned;
  }

  private planOne(effect: NotifyOutboxEffect, groups: Pick<GroupRepository, "getGroup">) {
    return useCases
      .notificationOf(groups, effect)
      .andThen((notification) => this.notifier.planForCommit(notification));
  }
}
