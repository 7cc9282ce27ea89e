/**
 * The CLI's output may be closed under it: `pgvigil history | head`, a `tee` that a Ctrl-C
 * ended first, a terminal that went away. A command then ends quietly (exit 0, nothing on
 * stderr), as a Unix tool killed by SIGPIPE would, unless it has something to stop first:
 * `pgvigil up` puts its own handler in place to stop the cluster it started.
 */

/** The errors a write to a pipe, socket or terminal that no one reads any more ends with. */
const CLOSED = new Set(['EPIPE', 'ECONNRESET', 'EIO', 'ERR_STREAM_DESTROYED']);

let closed = false;
let onClosed: () => void = () => process.exit(0);

/** Installed once by main: stdout or stderr closed runs the handler instead of an unhandled 'error'. */
export function watchOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (!CLOSED.has(e.code ?? '')) throw e;
      const first = !closed;
      closed = true;
      if (first) onClosed();
    });
  }
}

/** What to do instead of exiting when the output is closed: the command then ends itself. */
export function whenOutputClosed(handler: () => void): void {
  onClosed = handler;
  if (closed) handler();
}

/** Whether a write to stdout or stderr already failed because no one reads it. */
export function outputClosed(): boolean {
  return closed;
}
