// The dynamic table (RFC 7541 §2.3.2, §4): newest entry first, evicted
// oldest first to stay within its maximum size. An entry's size is its name
// and value in octets plus 32; names and values are latin1 strings, so a
// string's length is its octet count. Entries are kept in a ring (two
// parallel arrays of strings), so a lookup allocates nothing and returns the
// strings decoded when the entry was inserted.

const ENTRY_OVERHEAD = 32;

export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

export class DynamicTable {
  /** The current size in octets. */
  size = 0;
  /** The current maximum size (the last size update, or the initial one). */
  maxSize: number;
  /** How many entries were ever inserted: the newest is entry number inserted - 1. */
  inserted = 0;
  private names: string[] = [];
  private values: string[] = [];
  /** Ring capacity - 1 (a power of two minus one). */
  private mask = 15;
  /** The slot of the oldest entry. */
  private tail = 0;
  /** How many entries the table holds. */
  length = 0;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
    this.names = new Array<string>(this.mask + 1).fill('');
    this.values = new Array<string>(this.mask + 1).fill('');
  }

  /** The name of entry `index` (1 = the newest); the caller checked 1 <= index <= length. */
  name(index: number): string {
    return this.names[(this.tail + this.length - index) & this.mask]!;
  }

  value(index: number): string {
    return this.values[(this.tail + this.length - index) & this.mask]!;
  }

  /**
   * Inserts an entry, evicting as needed; an entry larger than the maximum
   * empties the table and is not inserted (§4.4).
   */
  add(name: string, value: string): void {
    const size = entrySize(name, value);
    if (size > this.maxSize) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.maxSize - size);
    if (this.length > this.mask) this.grow();
    const slot = (this.tail + this.length) & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.length++;
    this.inserted++;
    this.size += size;
  }

  /** A dynamic table size update (§6.3), or a new encoder limit. */
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictTo(maxSize);
  }

  /** The entries, newest first (for tests and diagnostics). */
  entries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 1; i <= this.length; i++) out.push([this.name(i), this.value(i)]);
    return out;
  }

  /** Called for each evicted entry with its entry number; subclasses index entries. */
  protected evicted(_name: string, _value: string, _entry: number): void {}

  private evictTo(maxSize: number): void {
    while (this.size > maxSize) {
      const slot = this.tail;
      const name = this.names[slot]!;
      const value = this.values[slot]!;
      this.evicted(name, value, this.inserted - this.length);
      this.size -= entrySize(name, value);
      // Let the strings go: a ring slot may stay unused for a long time.
      this.names[slot] = '';
      this.values[slot] = '';
      this.tail = (slot + 1) & this.mask;
      this.length--;
    }
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const names = new Array<string>(capacity).fill('');
    const values = new Array<string>(capacity).fill('');
    for (let i = 0; i < this.length; i++) {
      names[i] = this.names[(this.tail + i) & this.mask]!;
      values[i] = this.values[(this.tail + i) & this.mask]!;
    }
    this.names = names;
    this.values = values;
    this.tail = 0;
    this.mask = capacity - 1;
  }
}
