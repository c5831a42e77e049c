import { SMTPServer } from 'smtp-server';

/** A real SMTP server in the bench process that accepts every mail and counts them. */
export interface BenchSmtpServer {
  /** nodemailer transport options pointing at it. */
  transport: { host: string; port: number; secure: false; ignoreTLS: true };
  received(): number;
  stop(): Promise<void>;
}

export async function startSmtpServer(): Promise<BenchSmtpServer> {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // Its default reverse DNS lookup of each client would wait on a resolver this machine may not
    // reach: that is the network's time, not the module's.
    disableReverseLookup: true,
    onData(stream, _session, callback) {
      // Read to the end (the client waits for it), keep nothing.
      stream.on('data', () => undefined);
      stream.on('end', () => {
        received++;
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  let stopped: Promise<void> | undefined;
  return {
    transport: { host: '127.0.0.1', port, secure: false, ignoreTLS: true },
    received: () => received,
    stop: () => (stopped ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}
