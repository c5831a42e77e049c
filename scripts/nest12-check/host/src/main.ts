import 'reflect-metadata';
import { createRequire } from 'node:module';
import * as nestCommon from '@nestjs/common';
import * as nestCore from '@nestjs/core';
import * as nestEventEmitter from '@nestjs/event-emitter';
import * as nestSchedule from '@nestjs/schedule';
import * as nestTypeorm from '@nestjs/typeorm';
import * as typeorm from 'typeorm';
import { AppModule } from './app.module.js';

// nestjs-aqueduct is CommonJS: it require()s these packages, the host import()s them. Nest's DI and
// metadata only work if both get the same module instance (no dual-package hazard); check it.
const libraryRequire = createRequire(import.meta.resolve('nestjs-aqueduct'));
const shared: [string, Record<string, unknown>, string][] = [
  ['@nestjs/common', nestCommon, 'ConfigurableModuleBuilder'],
  ['@nestjs/core', nestCore, 'DiscoveryService'],
  ['@nestjs/event-emitter', nestEventEmitter, 'EventEmitter2'],
  ['@nestjs/schedule', nestSchedule, 'ScheduleModule'],
  ['@nestjs/typeorm', nestTypeorm, 'TypeOrmModule'],
  ['typeorm', typeorm, 'DataSource'],
];
for (const [name, imported, exportName] of shared) {
  if (libraryRequire(name)[exportName] !== imported[exportName]) {
    console.error(`NEST12_CHECK ${name}: the library's require() and the host's import differ`);
    process.exit(1);
  }
}
console.log(`NEST12_CHECK shared module instances: ${shared.map(([name]) => name).join(', ')}`);

const nestVersion: string = createRequire(import.meta.url)('@nestjs/core/package.json').version;
const app = await nestCore.NestFactory.create(AppModule, { logger: ['error', 'warn', 'log'] });
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address() as { port: number };
// run.sh waits for this line.
console.log(`NEST12_CHECK listening http://127.0.0.1:${port} nest=${nestVersion}`);
