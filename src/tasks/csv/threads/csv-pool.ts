import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { hasUniqueConstraint } from '../schema/schema.js';
import type { ThreadSpec } from './thread-protocol.js';

/**
 * The thread's entry: the compiled .js, or under tsx (tests, benches) a bootstrap that registers tsx in
 * the thread first, since Node 20 does not carry `--import tsx` hooks into workers.
 */
const fromSource = import.meta.url.endsWith('.ts');
const entry = new URL(fromSource ? './source-entry.mjs' : './thread-main.js', import.meta.url);

/**
 * Node options the threads get from the process's own: only the diagnostics that work per thread. A thread
 * refuses V8 and process-wide options (`node --max-old-space-size=… stageline worker` made every thread,
 * and so the worker, fail to start with ERR_WORKER_INVALID_EXEC_ARGV): their heaps are bounded by the
 * pool's resource limits instead. A TypeScript loader the parent runs under (the benches run the compiled
 * build from tsx) is not passed either: compiled threads need none, and the source bootstrap registers tsx
 * itself.
 */
const perThreadOptions = /^--(enable-source-maps|cpu-prof|cpu-prof-dir|cpu-prof-name|cpu-prof-interval|heap-prof|heap-prof-dir|heap-prof-name|heap-prof-interval)(=|$)/;
/** Those of them that take a value, which may come as the next argument. */
const withValue = /^--(cpu-prof-dir|cpu-prof-name|cpu-prof-interval|heap-prof-dir|heap-prof-name|heap-prof-interval)$/;

export function threadExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (!perThreadOptions.test(arg)) continue;
    out.push(arg);
    if (withValue.test(arg) && i + 1 < argv.length) out.push(argv[(i += 1)]!);
  }
  return out;
}

export interface CsvPoolOptions {
  /** Checker threads one validation runs besides its reader, and the threads one analysis shares its rows among (CSV_THREADS). */
  checkers: number;
  /** Validations the process runs at once (VALIDATION_CONCURRENCY). */
  validations: number;
  /** Analyses the process runs at once (ANALYSIS_CONCURRENCY). */
  analyses: number;
  /** Heap of the one checker that holds a `unique` constraint's values (CSV_UNIQUE_HEAP_MB). */
  uniqueHeapMb: number;
}

/** What a thread's heap is bounded by, which decides what running out of it means for the job. */
export type HeapClass = 'lean' | 'unique' | 'analyse';

/**
 * Heap bounds per class. Each block or chunk leaves a dead megabyte-sized string behind, and V8 lets a
 * heap grow far before it collects them: a thread that keeps little alive gets a small heap, so its RSS
 * stays flat (measured: 355 MB -> 246 MB peak for validation with two checkers). A checker holding a
 * `unique` set keeps data in proportion to the file: CSV_UNIQUE_HEAP_MB bounds it, so a column of
 * millions of distinct values fails its job instead of the container. Analysis's first part (it reads
 * its spilled value counts back, a partition at a time) gets no old-generation bound.
 */
function heapLimits(heap: HeapClass, uniqueHeapMb: number): ResourceLimits {
  if (heap === 'lean') return { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 48 };
  return heap === 'unique' ? { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: uniqueHeapMb } : { maxYoungGenerationSizeMb: 8 };
}

export function heapClassOf(spec: ThreadSpec): HeapClass {
  // Only analysis's first part merges and finishes the statistics (a partition of spilled value counts is
  // read into a Map there); the others keep their tallies in typed arrays, outside the heap.
  if (spec.mode === 'analyse') return spec.part === 0 ? 'analyse' : 'lean';
  return spec.mode === 'check' && hasUniqueConstraint(spec.schema) ? 'unique' : 'lean';
}

/** A task as the pool's threads receive it: the spec and the task's own channel (thread-main.ts). */
export interface PoolTask {
  spec: ThreadSpec;
  port: MessagePort;
}

/**
 * The CSV threads of the process, kept warm between jobs: starting a thread (and importing the parser,
 * zod and the schema code in it) cost about 180 ms, four times per job, which capped tiny jobs below two a
 * second. One piscina pool per heap class, since resource limits are per thread. Each thread runs one task
 * at a time, so a heap bound is one job's, running out of it is that job's fault, and aborting a task may
 * terminate its thread (piscina starts a replacement, as it does for a thread that dies). Each pool is
 * sized for every job the stages may run at once (a validation's reader and checkers run side by side and
 * wait on each other, so none may queue behind another job's); the threads one job needs start with the
 * pool, the rest on demand, and stay a minute after their last task.
 */
export class CsvPool {
  readonly checkers: number;
  private readonly pools = new Map<HeapClass, Piscina>();
  private closed = false;
  private analysing = 0;

  constructor(private readonly options: CsvPoolOptions) {
    this.checkers = options.checkers;
    // The lean and analysis threads start now, not on the first job's path.
    this.pool('lean');
    this.pool('analyse');
  }

  private pool(heap: HeapClass): Piscina {
    if (this.closed) throw new Error('The CSV thread pool is closed');
    let pool = this.pools.get(heap);
    if (!pool) {
      const { checkers, validations, analyses, uniqueHeapMb } = this.options;
      // Lean: each validation's reader and checkers, and each analysis's parts but the first. Those parts
      // use the threads a validation leaves idle, so a worker running one job at a time starts none for them.
      const [minThreads, maxThreads] = heap === 'lean' ? [checkers + 1, validations * (checkers + 1) + analyses * (checkers - 1)] : heap === 'unique' ? [0, validations] : [1, analyses];
      pool = new Piscina({
        filename: entry.href,
        minThreads,
        maxThreads: Math.max(minThreads, maxThreads),
        concurrentTasksPerWorker: 1,
        idleTimeout: 60_000,
        resourceLimits: heapLimits(heap, uniqueHeapMb),
        execArgv: threadExecArgv(),
      });
      this.pools.set(heap, pool);
    }
    return pool;
  }

  /**
   * How many parts an analysis starting now shares its rows among: CSV_THREADS when it runs alone, that
   * split among the analyses running when several do, so together they take no more threads than one,
   * and none pays for sharing (a thread's merge, the cutting) cores that are already busy. `done` when
   * it ends. The report does not depend on the count (analyser.ts).
   */
  analysisShare(): { parts: number; done: () => void } {
    this.analysing += 1;
    let ended = false;
    const done = () => {
      if (ended) return;
      ended = true;
      this.analysing -= 1;
    };
    return { parts: Math.max(1, Math.floor(this.checkers / this.analysing)), done };
  }

  /** Runs `spec` on a pool thread over `port`; settles when the thread's task ends. */
  run(spec: ThreadSpec, port: MessagePort, signal: AbortSignal): Promise<unknown> {
    const task: PoolTask = { spec, port };
    return this.pool(heapClassOf(spec)).run(task, { transferList: [port], signal });
  }

  heapLimitMb(spec: ThreadSpec): number | undefined {
    return heapLimits(heapClassOf(spec), this.options.uniqueHeapMb).maxOldGenerationSizeMb;
  }

  /** The ids of the threads alive in each class: a job's path starts none (tested). */
  threadIds(heap: HeapClass): number[] {
    return (this.pools.get(heap)?.threads ?? []).map((t) => t.threadId).sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close({ force: true })));
  }
}
