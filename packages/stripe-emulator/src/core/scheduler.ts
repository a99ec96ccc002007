/** The id of the emulator's own clock; test clocks use their `clock_…` ids. */
export const MAIN_CLOCK = "main";

/** Work due at an emulator time: settling a debit, making funds available, renewing a subscription. */
export interface Task {
  seq: number;
  dueAt: number;
  clock: string;
  kind: string;
  ref: string;
}

export interface SchedulerSnapshot {
  seq: number;
  clocks: Array<[string, number]>;
  tasks: Task[];
}

/**
 * Emulator clocks that only move forward when told to. Work is stored as data (so it
 * survives persistence) and runs in timestamp order when a clock is advanced, with the
 * clock set to each task's time so the objects and events it makes carry that time.
 */
export class Scheduler {
  private seq = 0;
  private readonly clocks = new Map<string, number>();
  private tasks: Task[] = [];
  /** Pending tasks by kind and ref, so cancelling looks only at the ones it cancels. */
  private readonly byRef = new Map<string, Set<Task>>();

  constructor(startAt: number) {
    this.clocks.set(MAIN_CLOCK, startAt);
  }

  now(clock: string = MAIN_CLOCK): number {
    const value = this.clocks.get(clock);
    if (value === undefined) throw new Error(`unknown clock ${clock}`);
    return value;
  }

  hasClock(clock: string): boolean {
    return this.clocks.has(clock);
  }

  addClock(clock: string, at: number): void {
    this.clocks.set(clock, at);
  }

  removeClock(clock: string): void {
    this.clocks.delete(clock);
    for (const task of this.tasks) if (task.clock === clock) this.forget(task);
    this.tasks = this.tasks.filter((t) => t.clock !== clock);
  }

  schedule(clock: string, dueAt: number, kind: string, ref: string): void {
    const task: Task = { seq: ++this.seq, dueAt, clock, kind, ref };
    // Keep tasks sorted by (dueAt, seq): insertion after the last task due at or before dueAt.
    let lo = 0;
    let hi = this.tasks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tasks[mid]!.dueAt <= dueAt) lo = mid + 1;
      else hi = mid;
    }
    this.tasks.splice(lo, 0, task);
    const key = refKey(kind, ref);
    let same = this.byRef.get(key);
    if (!same) {
      same = new Set();
      this.byRef.set(key, same);
    }
    same.add(task);
  }

  cancel(kind: string, ref: string): void {
    const same = this.byRef.get(refKey(kind, ref));
    if (!same) return;
    this.byRef.delete(refKey(kind, ref));
    for (const task of same) {
      const index = this.indexOf(task);
      if (index >= 0) this.tasks.splice(index, 1);
    }
  }

  /** Where a pending task is in the (dueAt, seq) order (found by bisection), or -1. */
  private indexOf(task: Task): number {
    let lo = 0;
    let hi = this.tasks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.tasks[mid]!;
      if (t.dueAt < task.dueAt || (t.dueAt === task.dueAt && t.seq < task.seq)) lo = mid + 1;
      else hi = mid;
    }
    return this.tasks[lo] === task ? lo : this.tasks.indexOf(task);
  }

  private forget(task: Task): void {
    const key = refKey(task.kind, task.ref);
    const same = this.byRef.get(key);
    if (!same) return;
    same.delete(task);
    if (same.size === 0) this.byRef.delete(key);
  }

  pending(clock?: string): readonly Task[] {
    return clock === undefined ? this.tasks : this.tasks.filter((t) => t.clock === clock);
  }

  /**
   * Runs every task of `clock` due at or before `until`, earliest first, including tasks that
   * running ones schedule inside the window; then leaves the clock at `until`.
   */
  advance(clock: string, until: number, run: (task: Task) => void): number {
    const current = this.now(clock);
    if (until < current) throw new Error("clocks only move forward");
    let ran = 0;
    for (;;) {
      const index = this.firstDue(clock, until);
      if (index < 0) break;
      const task = this.tasks[index]!;
      this.tasks.splice(index, 1);
      this.forget(task);
      if (task.dueAt > this.now(clock)) this.clocks.set(clock, task.dueAt);
      run(task);
      ran++;
    }
    this.clocks.set(clock, until);
    return ran;
  }

  /** Tasks are sorted by time, so the scan stops at the first one that is not due. */
  private firstDue(clock: string, until: number): number {
    for (let i = 0; i < this.tasks.length; i++) {
      const task = this.tasks[i]!;
      if (task.dueAt > until) return -1;
      if (task.clock === clock) return i;
    }
    return -1;
  }

  clear(startAt: number): void {
    this.seq = 0;
    this.tasks = [];
    this.byRef.clear();
    this.clocks.clear();
    this.clocks.set(MAIN_CLOCK, startAt);
  }

  snapshot(): SchedulerSnapshot {
    return { seq: this.seq, clocks: [...this.clocks.entries()], tasks: this.tasks };
  }

  restore(snapshot: SchedulerSnapshot): void {
    this.seq = snapshot.seq;
    this.clocks.clear();
    for (const [id, at] of snapshot.clocks) this.clocks.set(id, at);
    this.tasks = [...snapshot.tasks].sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
    this.byRef.clear();
    for (const task of this.tasks) {
      const key = refKey(task.kind, task.ref);
      let same = this.byRef.get(key);
      if (!same) {
        same = new Set();
        this.byRef.set(key, same);
      }
      same.add(task);
    }
  }
}

function refKey(kind: string, ref: string): string {
  return `${kind}\n${ref}`;
}
