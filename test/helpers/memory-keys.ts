import { S3Client } from '@aws-sdk/client-s3';
import { ObjectKeys, type KeyPage } from '../../src/storage/object-keys.js';

/**
 * Index names in memory, listed as S3 lists them: byte order (the names are ASCII), from StartAfter
 * exclusive, at most MaxKeys. (fauxqs sorts with localeCompare, which differs from S3 within one
 * millisecond's jobIds; this is the order the listing is written for.) Its client is never called.
 */
export class MemoryKeys extends ObjectKeys {
  private names: string[] = [];
  private sorted = true;
  /** Every LIST asked of it. */
  lists = 0;

  constructor() {
    super(new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }), 'memory');
  }

  add(...names: string[]): void {
    this.names.push(...names);
    this.sorted = false;
  }

  all(): string[] {
    this.sort();
    return [...this.names];
  }

  override async put(key: string): Promise<void> {
    if (!this.names.includes(key)) this.add(key);
  }

  override async delete(key: string): Promise<void> {
    this.names = this.names.filter((n) => n !== key);
  }

  override async list(prefix: string, options: { startAfter?: string; maxKeys?: number } = {}): Promise<KeyPage> {
    this.lists++;
    this.sort();
    // The first name past StartAfter (strictly) and at or past the prefix.
    const after = options.startAfter !== undefined && options.startAfter >= prefix ? options.startAfter : undefined;
    let lo = 0;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const name = this.names[mid]!;
      if (after !== undefined ? name <= after : name < prefix) lo = mid + 1;
      else hi = mid;
    }
    const keys: string[] = [];
    const max = Math.min(1000, options.maxKeys ?? 1000);
    let i = lo;
    for (; i < this.names.length && keys.length < max && this.names[i]!.startsWith(prefix); i++) keys.push(this.names[i]!);
    return { keys, truncated: i < this.names.length && this.names[i]!.startsWith(prefix) };
  }

  private sort(): void {
    if (this.sorted) return;
    this.names = [...new Set(this.names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.sorted = true;
  }
}
