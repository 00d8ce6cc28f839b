"""pandas read_csv + describe over the bench file: the reference for throughput and peak memory."""
import json, resource, sys, time

import pandas as pd

start = time.perf_counter()
df = pd.read_csv(sys.argv[1], on_bad_lines="skip")
df.describe(include="all")
seconds = time.perf_counter() - start
# Rows pandas kept (lines with too many fields skipped; too few are padded with NaN, as pandas does).
print(json.dumps({"seconds": seconds, "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "rows": len(df)}))
