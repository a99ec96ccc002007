import { describe, expect, it } from "vitest";
import { parseBackupArgs, parseCatchUpArgs, parseRestoreArgs } from "../../src/backup/command-args.js";

describe("the backup commands' arguments", () => {
  it("db:backup needs --out FILE", () => {
    expect(parseBackupArgs(["--out", "susu.backup"])._unsafeUnwrap()).toEqual({ outPath: "susu.backup" });
    expect(parseBackupArgs([])._unsafeUnwrapErr()).toMatch(/--out FILE is required/);
    expect(parseBackupArgs(["--out", " "])._unsafeUnwrapErr()).toMatch(/--out FILE is required/);
    expect(parseBackupArgs(["--out", "a", "extra"])._unsafeUnwrapErr()).toMatch(/usage: npm run db:backup/);
  });

  it("db:restore needs --from FILE and takes --force", () => {
    expect(parseRestoreArgs(["--from", "b"])._unsafeUnwrap()).toEqual({ fromPath: "b", force: false });
    expect(parseRestoreArgs(["--from", "b", "--force"])._unsafeUnwrap()).toEqual({
      fromPath: "b",
      force: true,
    });
    expect(parseRestoreArgs(["--force"])._unsafeUnwrapErr()).toMatch(/--from FILE is required/);
    expect(parseRestoreArgs(["--from", "b", "--yes"])._unsafeUnwrapErr()).toMatch(
      /usage: npm run db:restore/,
    );
  });

  it("stripe:catch-up takes --since INSTANT or --backup FILE with a margin, not both", () => {
    expect(parseCatchUpArgs(["--since", "2026-12-02T10:00:00Z"])._unsafeUnwrap()).toEqual({
      kind: "since",
      since: Date.UTC(2026, 11, 2, 10),
    });
    expect(parseCatchUpArgs(["--backup", "b"])._unsafeUnwrap()).toEqual({
      kind: "backup",
      backupPath: "b",
      marginMinutes: 60,
    });
    expect(parseCatchUpArgs(["--backup", "b", "--margin-minutes", "15"])._unsafeUnwrap()).toMatchObject({
      marginMinutes: 15,
    });
    expect(parseCatchUpArgs([])._unsafeUnwrapErr()).toMatch(/exactly one of --since and --backup/);
    expect(parseCatchUpArgs(["--since", "2026-12-02", "--backup", "b"])._unsafeUnwrapErr()).toMatch(
      /exactly one/,
    );
    expect(parseCatchUpArgs(["--since", "yesterday"])._unsafeUnwrapErr()).toMatch(/--since: not a date/);
    expect(parseCatchUpArgs(["--since", "2026-12-02T10:00:00"])._unsafeUnwrapErr()).toMatch(/with a zone/);
    expect(parseCatchUpArgs(["--backup", "b", "--margin-minutes", "-5"])._unsafeUnwrapErr()).toMatch(
      /--margin-minutes/,
    );
    expect(parseCatchUpArgs(["--since", "2026-12-02", "--margin-minutes", "5"])._unsafeUnwrapErr()).toMatch(
      /goes with --backup/,
    );
  });
});
