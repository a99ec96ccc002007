export { listenForStop, notifyReady, type StopReason, withoutForeignStopHandlers } from "./lifecycle.js";
