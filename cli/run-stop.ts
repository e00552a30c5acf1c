/**
 * SIGINT and SIGTERM during a run: the first stops it after the current resource (the engine
 * watches `signal`), a second one quits at once. `release()` when the run is over.
 */
export class RunStop extends AbortController {
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.signal.aborted) process.exit(130);
    process.stderr.write(`tend: ${signal}: stopping after the current resource (again to quit now)\n`);
    this.abort();
  };

  constructor() {
    super();
    process.on("SIGINT", this.onSignal);
    process.on("SIGTERM", this.onSignal);
  }

  release(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }
}
