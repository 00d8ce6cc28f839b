import { Cron } from 'croner';

/**
 * The instants a cron expression fires in a time zone, by the contract's DST rules (section 7):
 * a local time that a DST change skips fires once, at the end of the gap; a local time that occurs
 * twice fires once, at its first occurrence.
 *
 * croner's own time-zone mode treats wildcard and stepped patterns as intervals (in croner 11,
 * `*\/20 1 * * *` in Europe/London fires in both passes of the repeated hour and not at all on the
 * spring-forward day), so the pattern is evaluated here on wall-clock time alone (croner at UTC+0,
 * where no DST exists) and each wall time is mapped to an instant with Intl:
 * - a wall time that exists once: that instant;
 * - a repeated wall time: its first occurrence;
 * - a skipped wall time: the first instant after the gap. Several skipped wall times (and the wall
 *   time that ends the gap) map to the same instant, and fire once.
 * The mapping never goes backwards as wall time goes forwards, so ticks come out in order.
 */

const dayMs = 86_400_000;
const minuteMs = 60_000;

export interface Ticks {
  /** Every tick in (from, to], in order. */
  between(from: Date, to: Date): Date[];
  /** The first tick after `from`, or undefined when the expression never fires again. */
  next(from: Date): Date | undefined;
}

export function scheduleTicks(cron: string, timeZone: string): Ticks {
  // utcOffset 0: croner reads and returns wall-clock times "as if UTC", with no DST to interfere.
  const pattern = new Cron(cron, { mode: '5-or-6-parts', utcOffset: 0 });
  const zone = new ZoneClock(timeZone);

  function* after(from: Date): Generator<Date> {
    const fromMs = from.getTime();
    let wall: Date | null = new Date(zone.wallMs(fromMs));
    let last = fromMs;
    while ((wall = pattern.nextRun(wall)) !== null) {
      const instant = zone.instantOf(wall.getTime());
      // A wall time after from's can still lie before it (the second pass of a repeated hour), and
      // skipped wall times share the instant that ends their gap: each instant once, after from.
      if (instant <= last) continue;
      last = instant;
      yield new Date(instant);
    }
  }

  return {
    between(from, to) {
      const out: Date[] = [];
      for (const tick of after(from)) {
        if (tick.getTime() > to.getTime()) break;
        out.push(tick);
      }
      return out;
    },
    next(from) {
      for (const tick of after(from)) return tick;
      return undefined;
    },
  };
}

/** Wall-clock arithmetic in one IANA zone, in epoch milliseconds ("wall" = the local time read as if UTC). */
export class ZoneClock {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** The local wall time at `instant`. */
  wallMs(instant: number): number {
    return instant + this.offsetMs(instant);
  }

  /**
   * The zone's offset from UTC at `instant`, in milliseconds. Read once per minute and kept: an offset
   * that is the same at the start of a minute and of the next holds through it (a tick every few
   * seconds would otherwise cost several Intl calls each).
   */
  offsetMs(instant: number): number {
    const minute = Math.floor(instant / minuteMs);
    const start = this.minuteOffset(minute);
    return start === this.minuteOffset(minute + 1) ? start : this.exactOffsetMs(instant);
  }

  private readonly offsets = new Map<number, number>();

  private minuteOffset(minute: number): number {
    let offset = this.offsets.get(minute);
    if (offset === undefined) {
      if (this.offsets.size >= 4096) this.offsets.clear();
      offset = this.exactOffsetMs(minute * minuteMs);
      this.offsets.set(minute, offset);
    }
    return offset;
  }

  private exactOffsetMs(instant: number): number {
    const part: Record<string, number> = {};
    let bc = false;
    for (const p of this.format.formatToParts(new Date(instant))) {
      if (p.type === 'era') bc = p.value.startsWith('B');
      else if (p.type !== 'literal') part[p.type] = Number(p.value);
    }
    const year = bc ? 1 - (part.year ?? 0) : (part.year ?? 1970);
    const wall = new Date(0);
    wall.setUTCFullYear(year, (part.month ?? 1) - 1, part.day ?? 1);
    wall.setUTCHours(part.hour ?? 0, part.minute ?? 0, part.second ?? 0, 0);
    return wall.getTime() - (instant - (((instant % 1000) + 1000) % 1000));
  }

  /** The instant a wall time fires at: its first occurrence, or for a skipped one the end of the gap. */
  instantOf(wall: number): number {
    const before = this.offsetMs(wall - dayMs);
    const after = this.offsetMs(wall + dayMs);
    const candidates = [...new Set([wall - before, wall - after, wall - this.offsetMs(wall)])]
      .filter((instant) => this.wallMs(instant) === wall)
      .sort((a, b) => a - b);
    if (candidates[0] !== undefined) return candidates[0];
    return this.gapEnd(wall, before, after);
  }

  /**
   * The first instant whose wall time is past `wall`, which a DST change skipped: between the instant
   * `wall` would be at the new offset (before the change) and at the old one (after it).
   */
  private gapEnd(wall: number, before: number, after: number): number {
    // Offsets change on whole seconds: search seconds.
    let lo = Math.floor((wall - after) / 1000);
    let hi = Math.ceil((wall - before) / 1000);
    if (lo > hi) [lo, hi] = [hi, lo];
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.wallMs(mid * 1000) > wall) hi = mid;
      else lo = mid + 1;
    }
    return hi * 1000;
  }
}

/** A tick as the contract writes it in a jobId: UTC `yyyyMMddTHHmmssZ`. */
export function tickStamp(tick: Date): string {
  return tick.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** The job a tick creates: `<name>-<tick as UTC yyyyMMddTHHmmssZ>`, e.g. `nightly-report-20261203T020000Z`. */
export function tickJobId(name: string, tick: Date): string {
  return `${name}-${tickStamp(tick)}`;
}

/** `instant` as local ISO time with its offset in `timeZone`, e.g. `2026-12-04T02:00:00+00:00`. */
export function localIso(instant: Date, timeZone: string): string {
  const offset = new ZoneClock(timeZone).offsetMs(instant.getTime());
  const wall = new Date(instant.getTime() + offset).toISOString().slice(0, 19);
  const minutes = Math.round(Math.abs(offset) / 60_000);
  return `${wall}${offset < 0 ? '-' : '+'}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
