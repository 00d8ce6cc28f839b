import { z } from 'zod';

/** The slice of a pino logger this module uses. */
export interface ProtectionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TaskProtectionOptions {
  /** `$ECS_AGENT_URI`; unset outside ECS, which makes every call a no-op. */
  agentUri: string | undefined;
  logger: ProtectionLogger;
  /** How long one protection lasts if this process stops renewing it (crash, hang): 1 to 2880. */
  expiresInMinutes: number;
  /** Idle time before protection is released, so a 1→0→1 flap costs no requests. Default 5 s. */
  releaseDelayMs?: number;
  /** Renewal period while busy. Default: half of `expiresInMinutes`, leaving room for a failed renewal's retries. */
  renewEveryMs?: number;
  /** Wait before retrying a failed call. Default 5 s. */
  retryDelayMs?: number;
  /** Per-request timeout. Default 5 s. */
  requestTimeoutMs?: number;
}

const ExpiresInMinutes = z.number().int().min(1).max(2880);

// The agent answers 200 with either `protection` or `failure`, and 4xx/5xx with `error`.
const AgentResponse = z.object({
  protection: z.object({ ProtectionEnabled: z.boolean(), ExpirationDate: z.string().nullish() }).optional(),
  failure: z.object({ Reason: z.string().optional(), Detail: z.string().nullish() }).optional(),
  error: z.object({ Code: z.string().optional(), Message: z.string().optional() }).optional(),
});

/**
 * ECS task scale-in protection: while this process has jobs in flight, the task is protected, so a
 * scale-in never stops it mid-transcode; idle, it is released. Calls are coalesced (one request at a time,
 * always towards the latest wanted state) and failures are logged, never thrown to the worker.
 */
export class TaskProtection {
  // Timers are unref'd: they serve a running worker and must not keep an otherwise finished process alive.
  private readonly url: string | undefined;
  private readonly expiresInMinutes: number;
  private readonly releaseDelayMs: number;
  private readonly renewEveryMs: number;
  private readonly retryDelayMs: number;
  private readonly requestTimeoutMs: number;
  /** What this process wants the agent to hold; goes false only after `releaseDelayMs` idle. */
  private wanted = false;
  /** What the agent last confirmed. */
  private enabled = false;
  private renewDue = false;
  private closed = false;
  private syncing: Promise<void> | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TaskProtectionOptions) {
    this.expiresInMinutes = ExpiresInMinutes.parse(options.expiresInMinutes);
    this.url = options.agentUri ? `${options.agentUri.replace(/\/+$/, '')}/task-protection/v1/state` : undefined;
    this.releaseDelayMs = options.releaseDelayMs ?? 5000;
    this.renewEveryMs = options.renewEveryMs ?? (this.expiresInMinutes * 60_000) / 2;
    this.retryDelayMs = options.retryDelayMs ?? 5000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  }

  /** Call on every change of the number of jobs in flight in this process. */
  setInFlight(count: number): void {
    if (!this.url || this.closed) return;
    if (count > 0) {
      clearTimeout(this.releaseTimer);
      this.releaseTimer = undefined;
      if (!this.wanted) {
        this.wanted = true;
        this.kick();
      }
    } else if (this.wanted && !this.releaseTimer) {
      this.releaseTimer = setTimeout(() => {
        this.releaseTimer = undefined;
        this.wanted = false;
        this.kick();
      }, this.releaseDelayMs).unref();
    }
  }

  /**
   * Stops renewing and releases protection if held (the process is going away). The release gets at most
   * `timeoutMs`, as it runs inside ECS's stop timeout after the drain.
   */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    await this.syncing;
    this.clearTimers(); // a request that failed meanwhile may have scheduled a retry
    if (this.enabled && (await this.put(false, Math.min(timeoutMs, this.requestTimeoutMs)))) this.enabled = false;
  }

  private clearTimers(): void {
    for (const t of [this.releaseTimer, this.renewTimer, this.retryTimer]) clearTimeout(t);
  }

  private kick(): void {
    // A running loop re-reads the wanted state after each request, so it picks up this change too.
    this.syncing ??= this.sync().finally(() => {
      this.syncing = undefined;
    });
  }

  private async sync(): Promise<void> {
    while (!this.closed && (this.wanted !== this.enabled || (this.wanted && this.renewDue))) {
      const target = this.wanted;
      this.renewDue = false;
      clearTimeout(this.retryTimer);
      if (!(await this.put(target))) {
        this.renewDue ||= target && this.enabled;
        this.retryTimer = setTimeout(() => this.kick(), this.retryDelayMs).unref();
        return;
      }
      this.enabled = target;
      clearTimeout(this.renewTimer);
      if (target && !this.closed) {
        this.renewTimer = setTimeout(() => {
          this.renewDue = true;
          this.kick();
        }, this.renewEveryMs).unref();
      }
    }
  }

  /** One PUT to the agent; true when it confirmed the requested state. */
  private async put(enabled: boolean, timeoutMs = this.requestTimeoutMs): Promise<boolean> {
    if (!this.url) return false;
    const body = enabled ? { ProtectionEnabled: true, ExpiresInMinutes: this.expiresInMinutes } : { ProtectionEnabled: false };
    try {
      const res = await fetch(this.url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      const parsed = AgentResponse.safeParse(safeJson(text));
      const answer = parsed.success ? parsed.data : {};
      if (res.ok && answer.protection?.ProtectionEnabled === enabled) {
        this.options.logger.info(
          { protectionEnabled: enabled, expirationDate: answer.protection.ExpirationDate ?? undefined },
          enabled ? 'ECS task scale-in protection set' : 'ECS task scale-in protection released',
        );
        return true;
      }
      const reason = answer.failure?.Reason ?? answer.error?.Code ?? `HTTP ${res.status}`;
      const detail = answer.failure?.Detail ?? answer.error?.Message ?? text.slice(0, 200);
      this.options.logger.warn({ protectionEnabled: enabled, reason, detail }, 'ECS agent refused the task protection change; retrying');
    } catch (err) {
      this.options.logger.warn(
        { protectionEnabled: enabled, err: err instanceof Error ? err.message : String(err) },
        'ECS agent unreachable for task protection; retrying',
      );
    }
    return false;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
