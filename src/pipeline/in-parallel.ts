/**
 * Runs `work` over the items, at most `limit` at a time, and waits for every started one to settle
 * (so no tool is still writing into a directory that is about to be removed); rejects with the first
 * error, and starts nothing after it. For plug-ins: encodes, uploads.
 */
export async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    for (let item = queue.shift(); item !== undefined && !failure; item = queue.shift()) {
      await work(item).catch((error: unknown) => {
        failure ??= { error };
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
}
