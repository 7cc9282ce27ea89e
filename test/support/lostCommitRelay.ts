import net from 'node:net';

/**
 * A TCP relay in front of an endpoint that, once armed, drops every server reply on the
 * connection that next sends COMMIT: the server commits and the client never hears of it, as
 * when a primary dies between its commit and its answer.
 */
export class LostCommitRelay {
  private server: net.Server | null = null;
  private armed = false;
  private readonly sockets = new Set<net.Socket>();
  /** Set once a COMMIT was swallowed. */
  swallowed = false;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(port: number): Promise<void> {
    this.server = net.createServer((client) => {
      const up = net.connect(this.target);
      let dropping = false;
      this.sockets.add(client).add(up);
      client.on('data', (chunk: Buffer) => {
        // A simple-protocol Query message whose text is COMMIT ('Q', length, "COMMIT\0").
        if (this.armed && chunk[0] === 0x51 && chunk.subarray(5).toString('latin1').startsWith('COMMIT')) {
          this.armed = false;
          dropping = true;
          this.swallowed = true;
        }
        up.write(chunk);
      });
      up.on('data', (chunk: Buffer) => {
        if (!dropping) client.write(chunk);
      });
      const close = () => {
        client.destroy();
        up.destroy();
      };
      client.on('close', close).on('error', close);
      up.on('close', close).on('error', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
  }

  /** The next COMMIT's reply, and everything after it on that connection, is lost. */
  loseNextCommit(): void {
    this.armed = true;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
