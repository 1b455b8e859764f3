// The encoder's dynamic table: the same table, plus maps from a name, and
// from a name and value, to the newest entry holding them, so finding a
// match costs two Map lookups and allocates nothing.

import { DynamicTable } from './dynamic-table.js';
import { STATIC_LENGTH } from './static-table.js';

export class IndexedDynamicTable extends DynamicTable {
  /** name -> the newest entry number with that name. */
  private readonly byName = new Map<string, number>();
  /** name -> value -> the newest entry number with both. */
  private readonly byField = new Map<string, Map<string, number>>();

  override add(name: string, value: string): void {
    super.add(name, value);
    // An entry larger than the table empties it and is not inserted.
    if (this.length === 0) return;
    const entry = this.inserted - 1;
    this.byName.set(name, entry);
    let values = this.byField.get(name);
    if (values === undefined) this.byField.set(name, (values = new Map<string, number>()));
    values.set(value, entry);
  }

  /** The HPACK index (static ones first) of an entry with this name and value, or 0. */
  fieldIndex(name: string, value: string): number {
    const entry = this.byField.get(name)?.get(value);
    return entry === undefined ? 0 : STATIC_LENGTH + this.inserted - entry;
  }

  /** The HPACK index of an entry with this name, or 0. */
  nameIndex(name: string): number {
    const entry = this.byName.get(name);
    return entry === undefined ? 0 : STATIC_LENGTH + this.inserted - entry;
  }

  protected override evicted(name: string, value: string, entry: number): void {
    // Eviction is oldest first, so a map still pointing at this entry has no newer one.
    if (this.byName.get(name) === entry) this.byName.delete(name);
    const values = this.byField.get(name);
    if (values?.get(value) === entry) {
      values.delete(value);
      if (values.size === 0) this.byField.delete(name);
    }
  }
}
