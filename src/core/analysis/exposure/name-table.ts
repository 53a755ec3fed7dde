/**
 * Names numbered in the order first seen, for reducing records to numbers
 * (see activity-batch.ts). A Map would do, but a name cut from a log line is
 * a new string each time and a Map hashes it in the engine's runtime, a call
 * out of compiled code per lookup; here the hash is a loop over the
 * characters in compiled code, and each slot's hash and number sit side by
 * side in one typed array (open addressing, linear probing), so a lookup
 * of a table too large for the cache waits on three reads from memory: the
 * slot, the name's place, the name.
 */
export class NameTable {
  private names: (string | undefined)[];
  /** Per slot: the name's hash, then its number plus one (0: the slot is free). */
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  constructor(capacity = 64) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.names = new Array<string | undefined>(slots).fill(undefined);
    this.slots = new Int32Array(slots * 2);
    this.mask = slots - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The number of `name`, or -1 when it has none. */
  get(name: string): number {
    const h = nameHash(name);
    const slots = this.slots;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const n = slots[2 * i + 1]!;
      if (n === 0) return -1;
      if (slots[2 * i] === h && this.names[i] === name) return n - 1;
    }
  }

  /** Numbers `name`, which must have no number yet, with the next number; returns it. */
  add(name: string): number {
    if ((this.count + 1) * 2 > this.names.length) this.grow();
    const number = this.count++;
    this.place(name, nameHash(name), number);
    return number;
  }

  private place(name: string, h: number, number: number): void {
    const mask = this.mask;
    let i = h & mask;
    while (this.slots[2 * i + 1] !== 0) i = (i + 1) & mask;
    this.names[i] = name;
    this.slots[2 * i] = h;
    this.slots[2 * i + 1] = number + 1;
  }

  private grow(): void {
    const { names, slots } = this;
    const size = names.length * 2;
    this.names = new Array<string | undefined>(size).fill(undefined);
    this.slots = new Int32Array(size * 2);
    this.mask = size - 1;
    for (let i = 0; i < names.length; i++) {
      const n = slots[2 * i + 1]!;
      if (n !== 0) this.place(names[i]!, slots[2 * i]!, n - 1);
    }
  }
}

/** FNV-1a over the UTF-16 code units, its high bits folded into the low ones the table uses. */
export function nameHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h ^ (h >>> 16);
}
