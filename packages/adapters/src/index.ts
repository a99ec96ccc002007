export * from "./db/index.js";
export * from "./stripe/index.js";
