/** A binary min-heap keyed by a number; the queue orders waiting files by mtime with it. */
export class MinHeap<T> {
  private readonly items: { key: number; value: T }[] = [];

  get size(): number {
    return this.items.length;
  }

  push(key: number, value: T): void {
    const items = this.items;
    items.push({ key, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      const c = items[i]!;
      if (p.key <= c.key) break;
      items[parent] = c;
      items[i] = p;
      i = parent;
    }
  }

  peek(): { key: number; value: T } | undefined {
    return this.items[0];
  }

  pop(): { key: number; value: T } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && items[l]!.key < items[m]!.key) m = l;
      if (r < items.length && items[r]!.key < items[m]!.key) m = r;
      if (m === i) break;
      const tmp = items[m]!;
      items[m] = items[i]!;
      items[i] = tmp;
      i = m;
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}
