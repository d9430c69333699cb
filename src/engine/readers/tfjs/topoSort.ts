// Depth-first topological order that keeps the file's order wherever the dependencies allow it, iteratively
// (a hostile file can chain 100k nodes), and reports a cycle instead of looping.

/**
 * Orders `items` so that each comes after the items it depends on. Dependencies on keys that are not in `items`
 * are ignored (callers check dangling references themselves). `cycleError` builds the error for an item on a cycle.
 */
export function topologicalOrder<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  dependenciesOf: (item: T) => readonly string[],
  cycleError: (item: T) => Error,
): T[] {
  const byKey = new Map(items.map((item) => [keyOf(item), item] as const));
  const visiting = new Set<string>();
  const done = new Set<string>();
  const order: T[] = [];
  for (const root of items) {
    if (done.has(keyOf(root))) continue;
    const stack = [{ item: root, dependencies: dependenciesOf(root), next: 0 }];
    visiting.add(keyOf(root));
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.dependencies.length) {
        const dependency = byKey.get(top.dependencies[top.next++]!);
        if (!dependency || done.has(keyOf(dependency))) continue;
        if (visiting.has(keyOf(dependency))) throw cycleError(dependency);
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
