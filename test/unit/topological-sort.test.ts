// The readers' one topological sort (src/engine/graph/topologicalSort.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { topologicalOrder } from '../../src/engine/graph/topologicalSort';

interface Item {
  name: string;
  after: string[];
}

const sort = (items: Item[]) =>
  topologicalOrder(
    items,
    (item) => item.name,
    (item) => item.after,
    (cycle) => new Error(`cycle: ${cycle.map((item) => item.name).join(' <- ')}`),
  ).map((item) => item.name);

describe('topologicalOrder', () => {
  it('keeps an order that already satisfies the dependencies', () => {
    assert.deepEqual(
      sort([
        { name: 'a', after: [] },
        { name: 'b', after: ['a'] },
        { name: 'c', after: ['a', 'b'] },
        { name: 'd', after: [] },
      ]),
      ['a', 'b', 'c', 'd'],
    );
  });

  it('moves an item after what it depends on, and keeps the input order elsewhere', () => {
    assert.deepEqual(
      sort([
        { name: 'c', after: ['b'] },
        { name: 'x', after: [] },
        { name: 'b', after: ['a'] },
        { name: 'a', after: [] },
      ]),
      ['a', 'b', 'c', 'x'],
    );
  });

  it('ignores dependencies on keys no item has (callers report them)', () => {
    assert.deepEqual(sort([{ name: 'a', after: ['input', 'weights'] }]), ['a']);
  });

  it('reports the items on a cycle, each depending on the next', () => {
    const items = [
      { name: 'start', after: [] },
      { name: 'p', after: ['start', 'r'] },
      { name: 'q', after: ['p'] },
      { name: 'r', after: ['q'] },
    ];
    assert.throws(() => sort(items), /^Error: cycle: p <- r <- q$/);
    assert.throws(() => sort([{ name: 'self', after: ['self'] }]), /^Error: cycle: self$/);
  });

  it('sorts a chain of 100000 items listed backwards without deep recursion', () => {
    const n = 100000;
    const items = Array.from({ length: n }, (_, i) => ({ name: String(n - 1 - i), after: n - 1 - i > 0 ? [String(n - 2 - i)] : [] }));
    const order = sort(items);
    assert.equal(order.length, n);
    assert.equal(order[0], '0');
    assert.equal(order[n - 1], String(n - 1));
  });
});
