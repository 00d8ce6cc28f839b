import type { Readable } from 'node:stream';
import { maxPendingBytes, unreadable } from '../read/canonical-reader.js';
import { RecordBlocks, type RecordBlock } from '../read/record-cut.js';
import type { FieldType } from '../schema/field-types.js';
import type { AnalysisReport } from '../reports.js';
import type { CsvPool } from '../threads/csv-pool.js';
import { CsvThread, pieceBytes, threadGroup } from '../threads/thread-host.js';
import type { AnalysisResult, ThreadSpec } from '../threads/thread-protocol.js';
import { transferablesOf, type AnalysisPartial } from './analyser.js';

type PartSpec = Extract<ThreadSpec, { mode: 'analyse' }>;

/** Blocks (of about 1 MiB) sent to a part and not yet done: one being read, one waiting. */
const blocksPerPart = 2;

/**
 * Analysis across threads. This thread cuts validated.csv into blocks of whole records (counting quotes
 * only, read/record-cut.ts) and deals them to part threads in turn, block i to part i mod parts (CSV_THREADS
 * parts when the analysis runs alone: `pool.analysisShare`); part 0 then merges the others' partials and
 * finishes the statistics, which do not depend on the sharing (analyser.ts). A part starts with the first
 * block it is dealt: a file of one block is read by one thread.
 *
 * Memory stays flat: the input is read only while the part whose turn it is holds fewer than
 * `blocksPerPart` blocks.
 */
export async function analyseInThreads(
  pool: Pick<CsvPool, 'run' | 'heapLimitMb' | 'analysisShare'>,
  columns: { name: string; type: FieldType }[],
  input: Readable,
  tmpDir: string,
  signal: AbortSignal,
): Promise<AnalysisReport> {
  const group = threadGroup(signal, 'CSV analysis');
  const { race } = group;
  const share = pool.analysisShare();
  const partCount = share.parts;
  const parts: { thread: CsvThread<PartSpec>; busy: number; freed: (() => void) | undefined }[] = [];

  const blocks = new RecordBlocks(pieceBytes, maxPendingBytes, unreadable);
  const part = (k: number) => {
    const known = parts[k];
    if (known) return known;
    const started = {
      thread: new CsvThread(pool, { mode: 'analyse', columns, tmpDir, part: k, parts: partCount } satisfies PartSpec, (msg) => {
        if (msg.type !== 'analysed') return;
        blocks.recycle(msg.chunk.buffer as ArrayBuffer);
        started.busy -= 1;
        started.freed?.();
      }),
      busy: 0,
      freed: undefined as (() => void) | undefined,
    };
    started.thread.result.catch(group.fail);
    parts[k] = started;
    return started;
  };
  let index = 0;
  const send = async ({ bytes, offset }: RecordBlock) => {
    const p = part(index % partCount);
    while (p.busy >= blocksPerPart) await race(new Promise<void>((resolve) => (p.freed = resolve)));
    p.busy += 1;
    p.thread.post({ type: 'rows', index, offset, chunk: bytes }, [bytes.buffer as ArrayBuffer]);
    index += 1;
  };

  const feed = async () => {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      for (const block of blocks.push(chunk)) await send(block);
    }
    for (const block of blocks.end()) await send(block);
  };

  try {
    // If a part fails first, or the task is aborted, feeding stops with the input destroyed below.
    const fed = feed();
    fed.catch(() => undefined);
    await race(fed);
    const lead = part(0);
    const others = parts.slice(1);
    for (const p of others) p.thread.post({ type: 'finish' });
    const partials = (await race(Promise.all(others.map((p) => p.thread.result)))).map(partialOf);
    lead.thread.post({ type: 'summarise', others: partials }, partials.flatMap(transferablesOf));
    const done = await race(lead.thread.result);
    if (done.kind !== 'report') throw new Error('CSV analysis: part 0 sent a partial, not the report');
    return done.report;
  } finally {
    share.done();
    group.release();
    input.destroy();
    await Promise.all(parts.map((p) => p.thread.terminate()));
  }
}

function partialOf(result: AnalysisResult): AnalysisPartial {
  if (result.kind !== 'partial') throw new Error('CSV analysis: a part sent a report, not its partial');
  return result.partial;
}
