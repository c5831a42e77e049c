import { startChildServer } from './child-server';

/** A real SMTP server, in its own process (bench/smtp-server.ts), that accepts every mail. */
export interface BenchSmtpServer {
  /** nodemailer transport options pointing at it. */
  transport: { host: string; port: number; secure: false; ignoreTLS: true };
  /** Mails it has received. */
  received(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSmtpServer(): Promise<BenchSmtpServer> {
  const server = await startChildServer('bench/smtp-server.ts', {});
  const { port } = new URL(server.baseUrl);
  return {
    transport: { host: '127.0.0.1', port: Number(port), secure: false, ignoreTLS: true },
    received: async () => (await server.stats()).mailsReceived ?? 0,
    stop: server.stop,
  };
}
