import pino from "pino";

/** Structured JSON logs; never log secrets, full bank details or card data. */
export type Logger = pino.Logger;

/** Creates the process logger. */
export function createLogger(level: string, name: string): Logger {
  return pino({ level, name, base: { service: name } });
}
