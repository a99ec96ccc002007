-- A group's schedule is kept in its own IANA time zone (the domain's Group.timeZone; the
-- snapshot holds it, this column projects it). Groups stored before it was kept are in UTC,
-- which keeps their rounds opening exactly when they did (their snapshots have no
-- `timeZone`, read as UTC).
ALTER TABLE "groups" ADD COLUMN "time_zone" TEXT NOT NULL DEFAULT 'UTC';
