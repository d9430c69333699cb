// The one topological sort of the readers (ONNX nodes, TF.js graph nodes, Keras layer calls): depth-first, keeping the
// input order wherever the dependencies allow it (a file already in order comes back unchanged), iterative (a hostile
// file can chain 100k nodes), and reporting a cycle instead of looping.

/**
 * Orders `items` so that each comes after the items it depends on. Dependencies on keys that no item has are ignored
 * (callers check dangling references themselves). On a cycle, `cycleError` gets the items on it, each one depending on
 * the next and the last on the first, and the error it returns is thrown.
 */
export function topologicalOrder<T, K>(
  items: readonly T[],
  keyOf: (item: T) => K,
  dependenciesOf: (item: T) => readonly K[],
  cycleError: (cycle: readonly T[]) => Error,
): T[] {
  const byKey = new Map(items.map((item) => [keyOf(item), item] as const));
  const visiting = new Set<K>();
  const done = new Set<K>();
  const order: T[] = [];
  for (const root of items) {
    if (done.has(keyOf(root))) continue;
    const stack = [{ item: root, dependencies: dependenciesOf(root), next: 0 }];
    visiting.add(keyOf(root));
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.dependencies.length) {
        const dependency = byKey.get(top.dependencies[top.next++]!);
        if (dependency === undefined || done.has(keyOf(dependency))) continue;
        if (visiting.has(keyOf(dependency))) {
          // the stack from `dependency` up is the cycle: each entry was pushed as a dependency of the one below it
          const from = stack.findIndex((entry) => keyOf(entry.item) === keyOf(dependency));
          throw cycleError(stack.slice(from).map((entry) => entry.item));
        }
        visiting.add(keyOf(dependency));
        stack.push({ item: dependency, dependencies: dependenciesOf(dependency), next: 0 });
      } else {
        visiting.delete(keyOf(top.item));
        done.add(keyOf(top.item));
        order.push(top.item);
        stack.pop();
      }
    }
  }
  return order;
}
