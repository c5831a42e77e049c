/**
 * The bench's SMTP server in a process of its own, as a mail relay is: in the load generator's
 * process, that process's garbage collections (34 ms pauses seen) held up the mails being received,
 * and showed up as the module's latency. A real SMTP server (`smtp-server`) that accepts every mail
 * and keeps nothing. Reports `{ type: 'ready', port }` over IPC once listening, and answers
 * `{ type: 'stats' }` with its CPU, memory and the mails received.
 */
import { SMTPServer } from 'smtp-server';
import {
  processStats,
  type ServerReadyMessage,
  type ServerStatsRequest,
} from './support/child-server';

function main(): void {
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
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.server.address() as { port: number };
    process.send?.({ type: 'ready', port } satisfies ServerReadyMessage);
  });
  const shutdown = () => server.close(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.once('disconnect', shutdown);
  process.on('message', (message: Partial<ServerStatsRequest>) => {
    if (message?.type === 'stats') {
      process.send?.(processStats({ roundTrips: 0, mailsReceived: received }));
    }
  });
}

main();
