import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { resolveDatabaseUrl } from './database/example-database';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Example');
  const database = await resolveDatabaseUrl();
  process.env.DATABASE_URL = database.url;

  const app = await NestFactory.create(AppModule);
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);

  // The module logs its own routes as served (global prefix and versioning applied).
  logger.log(`Listening on http://localhost:${port}`);
  logger.log(`Database: ${database.description}`);
  if (database.stop) {
    const stop = database.stop;
    process.once('beforeExit', () => void stop());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(
        signal,
        () =>
          void app
            .close()
            .then(stop)
            .then(() => process.exit(0)),
      );
    }
  }
}

void bootstrap();
