/**
 * Returns `connectionString` with its database replaced by `database`, keeping the
 * credentials, host and every query parameter (sslmode, options, …).
 */
export function withDatabase(connectionString: string, database: string): string {
  const url = new URL(connectionString);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** The database a connection string names (PostgreSQL's default is the user's name). */
export function databaseOf(connectionString: string): string {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  return name === "" ? decodeURIComponent(url.username) : name;
}

/** The connection string with its password masked, for logs and error messages. */
export function redactConnectionString(connectionString: string): string {
  const url = new URL(connectionString);
  if (url.password !== "") url.password = "***";
  return url.toString();
}
