export { type LineSink, LogNotifier, LogSupportDesk } from "./log-notifier.js";
