// `npm run mail:catch`: a local SMTP server that accepts every message and shows it, for
// seeing susu's e-mails without sending any (start the system with
// SUSU_SMTP_URL=smtp://127.0.0.1:1025). Each message is printed (envelope, subject, plain
// text) and kept as .data/mail/<n>.eml (open it in any mail client to see the HTML part).
// Built on the `smtp-server` and `mailparser` packages the notifier's tests use.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

const root = new URL("..", import.meta.url).pathname;
const port = Number(process.env.SUSU_MAIL_CATCHER_PORT ?? 1025);
const dir = join(root, ".data/mail");
mkdirSync(dir, { recursive: true });
let count = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  logger: false,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (c) => chunks.push(c));
    stream.on("end", async () => {
      const raw = Buffer.concat(chunks);
      count += 1;
      const file = join(dir, `${String(count).padStart(4, "0")}.eml`);
      writeFileSync(file, raw);
      const mail = await simpleParser(raw);
      console.log(
        [
          `── message ${count} (${file})`,
          `To: ${session.envelope.rcptTo.map((r) => r.address).join(", ")}`,
          `Subject: ${mail.subject}`,
          `Message-ID: ${mail.messageId}`,
          "",
          mail.text ?? "",
        ].join("\n"),
      );
      callback();
    });
  },
});
server.listen(port, "127.0.0.1", () =>
  console.log(`catching mail on smtp://127.0.0.1:${port}; Ctrl-C stops`),
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
