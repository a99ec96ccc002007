// The backup file's frame lines read across the stream's chunk boundaries.
import { describe, expect, it } from "vitest";
import { BackupFileError, FRAME_LINE_MAX, FrameReader, tableTrailer } from "../../src/backup/backup-file.js";

async function* chunks(...parts: string[]): AsyncIterable<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

describe("FrameReader", () => {
  const trailer = tableTrailer(1234, "a".repeat(64)); // 73 characters with its newline

  it("reads a table trailer that a chunk boundary cuts past its 64th byte", async () => {
    const reader = new FrameReader(chunks(trailer.slice(0, 66), trailer.slice(66), "END\n"));
    expect(await reader.line(FRAME_LINE_MAX)).toBe(trailer.trimEnd());
    expect(await reader.line(FRAME_LINE_MAX)).toBe("END");
  });

  it("says a file that ends inside a trailer is truncated", async () => {
    const reader = new FrameReader(chunks(trailer.slice(0, 66)));
    await expect(reader.line(FRAME_LINE_MAX)).rejects.toThrow(BackupFileError);
    await expect(new FrameReader(chunks(trailer.slice(0, 66))).line(FRAME_LINE_MAX)).rejects.toThrow(
      /truncated/,
    );
  });

  it("still refuses a frame line longer than the limit", async () => {
    const reader = new FrameReader(chunks("D ".padEnd(FRAME_LINE_MAX + 10, "9"), "\n"));
    await expect(reader.line(FRAME_LINE_MAX)).rejects.toThrow(/too long/);
  });
});
