import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Engine, EngineSnapshot } from "./core/engine.js";

const FILE = "stripe-emulator.json";

/**
 * Keeps the emulator's state in `<dataDir>/stripe-emulator.json`: loaded at start, written a
 * moment after changes (coalesced, so a busy benchmark does not serialise on every request)
 * and on stop. Writes go to a temporary file first so a crash never leaves half a file.
 */
export class Persistence {
  private timer: NodeJS.Timeout | null = null;
  private readonly path: string;

  constructor(
    private readonly engine: Engine,
    dataDir: string,
    private readonly delayMs = 500,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, FILE);
    engine.onChange(() => this.schedule());
  }

  load(): boolean {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return false;
    }
    const snapshot = JSON.parse(text) as EngineSnapshot;
    if (snapshot.version !== 1) throw new Error(`unsupported emulator state version in ${this.path}`);
    this.engine.restore(snapshot);
    return true;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.save();
    }, this.delayMs);
    this.timer.unref();
  }

  save(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.engine.snapshot()));
    renameSync(tmp, this.path);
  }
}
