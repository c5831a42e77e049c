import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';

/** The app's own cron, every second: it records when it ran. */
@Injectable()
export class Ticker {
  readonly ticks: number[] = [];

  @Cron('* * * * * *')
  tick() {
    this.ticks.push(Date.now());
  }
}
