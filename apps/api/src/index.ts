export { type ApiDeps, createApp } from "./app.js";
