/**
 * Bounds that keep one hostile or broken file from exhausting the worker. Each is a BadInputError when
 * passed, never a crash.
 */
export const csvLimits = {
  /** Bytes read from the start of the (decompressed) file to sniff encoding, delimiter and header. */
  headBytes: 1024 * 1024,
  /** Longest record (header or data row), in characters. Longer is a broken file or an unclosed quote. */
  maxRecordChars: 1024 * 1024,
  /** Most columns a header may name. */
  maxColumns: 2000,
  /**
   * Most records csv-parse may skip on one line. It skips one per quote inside an unquoted value or after a
   * closing quote, each time copying what it has read of the line into its error: n such quotes cost n²,
   * hours for a 1 MiB line. A line this broken is no row of data (CSV_MALFORMED).
   */
  maxSkipsPerLine: 100,
  /** Decompressed size beyond which a gzip input is refused outright. */
  maxDecompressedBytes: 20 * 1024 ** 3,
  /**
   * Decompression ratio beyond which a gzip input is a bomb. Real CSV compresses 3-20x; gzip's ceiling is
   * about 1030x. Checked only past `ratioCheckAfterBytes`, since tiny files have meaningless ratios.
   */
  maxCompressionRatio: 200,
  ratioCheckAfterBytes: 16 * 1024 * 1024,
} as const;
