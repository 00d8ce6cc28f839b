import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { JobListItem, QueuesResponse } from '../contract/dashboard-api.js';
import { errorMessage } from '../contract/errors.js';
import type { JobList } from './job-list.js';
import type { QueueStats } from './queue-stats.js';

export interface EventHubOptions {
  jobs: JobList;
  queues: QueueStats;
  logger?: Logger;
  /** How often the newest jobs and the queues are looked at while anyone listens. */
  jobsEveryMs?: number;
  queuesEveryMs?: number;
  heartbeatMs?: number;
  /** How many of the newest jobs are watched for changes. */
  watch?: number;
}

/** A listener that lets this much pile up unread is dropped: it reconnects and reloads. */
const maxBacklogBytes = 1024 * 1024;

/**
 * `GET /api/events`: Server-Sent Events of job and queue changes, without touching the events queue
 * (other consumers own it). While at least one client listens, one poller looks at the newest jobs in
 * the index and at the queues' counts, and sends what changed to every client: `event: job` with the
 * row of a job that is new or changed state or kind, `event: queues` with the counts when any moved
 * (and at once on connect). A comment line every `heartbeatMs` keeps proxies from closing an idle
 * stream. Nothing runs while no one listens; a closed connection is forgotten at once.
 */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private timers: NodeJS.Timeout[] = [];
  private known: Map<string, string> | undefined;
  private lastQueues: string | undefined;
  private busy = { jobs: false, queues: false };

  constructor(private readonly options: EventHubOptions) {}

  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    if (this.lastQueues) res.write(`event: queues\ndata: ${this.lastQueues}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.detach(res));
    if (this.clients.size === 1) this.startPolling();
  }

  get listeners(): number {
    return this.clients.size;
  }

  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopPolling();
  }

  private detach(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stopPolling();
  }

  private startPolling(): void {
    this.known = undefined;
    void this.pollJobs();
    void this.pollQueues();
    this.timers = [
      setInterval(() => void this.pollJobs(), this.options.jobsEveryMs ?? 1500),
      setInterval(() => void this.pollQueues(), this.options.queuesEveryMs ?? 3000),
      setInterval(() => this.send(': ping\n\n'), this.options.heartbeatMs ?? 15_000),
    ];
  }

  private stopPolling(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private async pollJobs(): Promise<void> {
    if (this.busy.jobs) return;
    this.busy.jobs = true;
    try {
      const { jobs } = await this.options.jobs.page({ limit: this.options.watch ?? 100 });
      const first = this.known === undefined;
      const known = (this.known ??= new Map());
      for (const job of [...jobs].reverse()) {
        const signature = `${job.state}/${job.kind ?? ''}`;
        if (known.get(job.jobId) === signature) continue;
        known.set(job.jobId, signature);
        // The first look only learns what is there: a client loads the list itself.
        if (!first) this.sendEvent('job', job);
      }
      // Forget jobs that fell out of the window, so the map stays the window's size.
      if (known.size > 4 * (this.options.watch ?? 100)) {
        const shown = new Set(jobs.map((j) => j.jobId));
        for (const id of known.keys()) if (!shown.has(id)) known.delete(id);
      }
    } catch (err) {
      this.options.logger?.warn({ err: errorMessage(err) }, 'event stream: could not list the newest jobs');
    } finally {
      this.busy.jobs = false;
    }
  }

  private async pollQueues(): Promise<void> {
    if (this.busy.queues) return;
    this.busy.queues = true;
    try {
      const queues: QueuesResponse = await this.options.queues.all();
      const text = JSON.stringify(queues);
      if (text !== this.lastQueues) {
        this.lastQueues = text;
        this.send(`event: queues\ndata: ${text}\n\n`);
      }
    } catch (err) {
      this.options.logger?.warn({ err: errorMessage(err) }, 'event stream: could not read the queues');
    } finally {
      this.busy.queues = false;
    }
  }

  private sendEvent(name: 'job', data: JobListItem): void {
    this.send(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private send(chunk: string): void {
    for (const res of this.clients) {
      if (res.writableLength > maxBacklogBytes) {
        res.destroy();
        continue;
      }
      res.write(chunk);
    }
  }
}
