/**
 * A mail server for benches: a real SMTP server (the `smtp-server` package) on 127.0.0.1
 * that accepts every message and keeps only a count, so a bench can run the scheduler with
 * e-mail configured (`SUSU_SMTP_URL`), as production runs it, and count the notifications'
 * cost: queuing them, and the delivery worker sending them. It runs in the bench's own
 * process: its CPU is the bench's, not the stack's.
 */
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface MailSink {
  /** `smtp://127.0.0.1:<port>`, for `SUSU_SMTP_URL`. */
  readonly url: string;
  /** Messages accepted so far. */
  received(): number;
  /** SMTP connections opened so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startMailSink(): Promise<MailSink> {
  let received = 0;
  let connections = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    // No reverse DNS look-up of each client (the default): a mail server's own cost, not susu's.
    disableReverseLookup: true,
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    onData(stream, _session, callback) {
      stream.on("data", () => undefined);
      stream.on("end", () => {
        received += 1;
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received: () => received,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
