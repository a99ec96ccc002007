import { describe, expect, it } from "vitest";
import { GROUPED_READS, GroupedStatements, type GroupStatement } from "../../src/db/grouped-statements.js";

/** A writer that records what it was asked to write, each write answering after `gate` opens. */
function recording(fail?: (items: readonly number[]) => Error | undefined) {
  const calls: (readonly number[])[] = [];
  const writer: GroupStatement<number, string> = {
    one: async (item) => {
      calls.push([item]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const error = fail?.([item]);
      if (error) throw error;
      return `one:${item}`;
    },
    many: async (items) => {
      calls.push(items);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const error = fail?.(items);
      if (error) throw error;
      return items.map((i) => `many:${i}`);
    },
  };
  return { calls, writer };
}

const refused = () => Object.assign(new Error("invalid byte sequence"), { code: "22021" });
const gone = () => Object.assign(new Error("Connection terminated unexpectedly"), { code: "57P01" });

describe("GroupedStatements", () => {
  it("writes the first at once, those that come meanwhile together, each caller answered for its own item", async () => {
    const { calls, writer } = recording();
    const writes = new GroupedStatements(writer, 4, "test write");
    const answers = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => writes.run(i)));
    expect(answers.map((a) => a._unsafeUnwrap())).toEqual([
      "one:1",
      "many:2",
      "many:3",
      "many:4",
      "many:5",
      "many:6",
      "many:7",
    ]);
    // At most `max` per statement, in the order they came.
    expect(calls).toEqual([[1], [2, 3, 4, 5], [6, 7]]);
    // Alone again once nothing is being written.
    expect((await writes.run(8))._unsafeUnwrap()).toBe("one:8");
  });

  it("a refused group is written item by item, so only the refused item is refused", async () => {
    const { calls, writer } = recording((items) => (items.includes(3) ? refused() : undefined));
    const writes = new GroupedStatements(writer, 10, "test write");
    const answers = await Promise.all([1, 2, 3, 4].map((i) => writes.run(i, `write ${i}`)));
    expect(answers[0]?._unsafeUnwrap()).toBe("one:1");
    expect(answers[1]?._unsafeUnwrap()).toBe("one:2");
    expect(answers[2]?._unsafeUnwrapErr()).toMatchObject({
      type: "storage_refused",
      message: expect.stringContaining("write 3"),
    });
    expect(answers[3]?._unsafeUnwrap()).toBe("one:4");
    expect(calls).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  it("reads (GROUPED_READS): the items of a refused group are read again side by side, not one after another", async () => {
    let open = 0;
    let most = 0;
    const calls: (readonly number[])[] = [];
    const reader: GroupStatement<number, string> = {
      one: async (item) => {
        calls.push([item]);
        most = Math.max(most, ++open);
        await new Promise((resolve) => setTimeout(resolve, 20));
        open--;
        if (item === 3) throw refused();
        return `one:${item}`;
      },
      many: async (items) => {
        calls.push(items);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (items.includes(3)) throw refused();
        return items.map((i) => `many:${i}`);
      },
    };
    const reads = new GroupedStatements(reader, 10, "test read", GROUPED_READS);
    const answers = await Promise.all([1, 2, 3, 4].map((i) => reads.run(i)));
    expect(answers.map((a) => (a.isOk() ? a.value : a.error.type))).toEqual([
      "one:1",
      "one:2",
      "storage_refused",
      "one:4",
    ]);
    expect(calls).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
    // 2, 3 and 4 were read again at once.
    expect(most).toBe(3);
  });

  it("a group that collided with another transaction (deadlock) is written item by item", async () => {
    const deadlock = () => Object.assign(new Error("deadlock detected"), { code: "40P01" });
    const { calls, writer } = recording((items) => (items.length > 1 ? deadlock() : undefined));
    const writes = new GroupedStatements(writer, 10, "test write");
    const answers = await Promise.all([1, 2, 3].map((i) => writes.run(i)));
    expect(answers.map((a) => a._unsafeUnwrap())).toEqual(["one:1", "one:2", "one:3"]);
    expect(calls).toEqual([[1], [2, 3], [2], [3]]);
  });

  it("any other failure of a group fails each of its callers, and the next writes go on", async () => {
    let down = true;
    const { writer } = recording((items) => (down && items.length > 1 ? gone() : undefined));
    const writes = new GroupedStatements(writer, 10, "test write");
    const answers = await Promise.all([1, 2, 3].map((i) => writes.run(i)));
    expect(answers[0]?._unsafeUnwrap()).toBe("one:1");
    for (const a of answers.slice(1)) expect(a._unsafeUnwrapErr().type).toBe("storage_unavailable");
    down = false;
    const again = await Promise.all([4, 5, 6].map((i) => writes.run(i)));
    expect(again.map((a) => a._unsafeUnwrap())).toEqual(["one:4", "many:5", "many:6"]);
  });

  it("with overtakeAfterMs, a statement stuck on its way holds the next group back that long only; without, until it returns", async () => {
    const stuck = (overtakeAfterMs?: number) => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const calls: (readonly number[])[] = [];
      const reader: GroupStatement<number, string> = {
        one: async (item) => {
          calls.push([item]);
          if (item === 1) await held; // the first read's connection went silent
          return `one:${item}`;
        },
        many: async (items) => {
          calls.push(items);
          return items.map((i) => `many:${i}`);
        },
      };
      const reads = new GroupedStatements(
        reader,
        10,
        "test read",
        overtakeAfterMs === undefined ? {} : { overtakeAfterMs },
      );
      return { reads, calls, release };
    };
    const within = <T>(p: Promise<T>, ms: number) =>
      Promise.race([p, new Promise<"waiting">((resolve) => setTimeout(() => resolve("waiting"), ms))]);

    const overtaking = stuck(20);
    const first = overtaking.reads.run(1);
    const others = Promise.all([2, 3].map((i) => overtaking.reads.run(i)));
    expect((await within(others, 1_000)) === "waiting").toBe(false);
    expect((await others).map((a) => a._unsafeUnwrap())).toEqual(["many:2", "many:3"]);
    overtaking.release();
    expect((await first)._unsafeUnwrap()).toBe("one:1");
    expect(overtaking.calls).toEqual([[1], [2, 3]]);

    const waiting = stuck();
    const firstWrite = waiting.reads.run(1);
    const after = Promise.all([2, 3].map((i) => waiting.reads.run(i)));
    expect(await within(after, 200)).toBe("waiting");
    waiting.release();
    expect((await after).map((a) => a._unsafeUnwrap())).toEqual(["many:2", "many:3"]);
    expect((await firstWrite)._unsafeUnwrap()).toBe("one:1");
  });

  it("refuses a group size below one", () => {
    const { writer } = recording();
    expect(() => new GroupedStatements(writer, 0, "test write")).toThrow(RangeError);
    expect(() => new GroupedStatements(writer, 1, "test write", { overtakeAfterMs: 0 })).toThrow(RangeError);
  });
});
