import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module';
import { type TestHost, useTestHost } from './use-test-app';

/**
 * The example app (src/) for the enclosing describe block, configured from the environment as
 * `npm start` is: DATABASE_URL names the block's own database, `env` sets (a string) or unsets
 * (undefined) the rest. The environment is put back once the block is over.
 */
export function useExampleApp(env: Record<string, string | undefined>): TestHost {
  const saved = { ...process.env };
  const host = useTestHost(async (databaseUrl) => {
    process.env.DATABASE_URL = databaseUrl;
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) {
        delete process.env[name];
      } else {
        process.env[name] = value;
      }
    }
    const app = await NestFactory.create(AppModule, { logger: false });
    await app.init();
    return app;
  });
  afterAll(() => {
    process.env = saved;
  });
  return host;
}
