/**
 * Which attributes the policies read, so that a request can carry only those (the engine's cost grows with the
 * size of what it is handed) and decisions can be remembered by them. Exact: a policy reaches a context or entity
 * attribute only through `var.a.b` or `var has a`; a variable used any other way is read whole.
 */
export type ReadTree = true | Map<string, ReadTree>;

export interface Reads {
  readonly context: ReadTree | undefined;
  readonly principal: ReadTree | undefined;
  readonly resource: ReadTree | undefined;
}

type Node = Record<string, unknown>;
type Var = 'principal' | 'resource' | 'context' | 'action';

function add(tree: Map<string, ReadTree>, path: readonly string[]): void {
  let node = tree;
  for (let i = 0; i < path.length; i += 1) {
    const existing = node.get(path[i]);
    if (existing === true) return;
    if (i === path.length - 1) {
      node.set(path[i], true);
      return;
    }
    const next = existing ?? new Map<string, ReadTree>();
    node.set(path[i], next);
    node = next;
  }
}

/** The variable and attribute path of `var.a.b` (or `var has a.b`), undefined when it does not start at a variable. */
function chain(expr: unknown): { variable: Var; path: string[] } | undefined {
  const path: string[] = [];
  let node = expr as Node | undefined;
  for (;;) {
    if (!node || typeof node !== 'object') return undefined;
    if ('Var' in node) return { variable: node.Var as Var, path: path.reverse() };
    const access = (node['.'] ?? node.has) as { left: unknown; attr: string | string[] } | undefined;
    if (!access) return undefined;
    path.push(...[access.attr].flat().reverse());
    node = access.left as Node;
  }
}

/** Walks the policies' conditions (their JSON form). */
export function collectReads(conditions: readonly unknown[]): Reads {
  const trees: Record<Var, ReadTree> = { principal: new Map(), resource: new Map(), context: new Map(), action: new Map() };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const record = node as Node;
    if ('Var' in record) {
      trees[record.Var as Var] = true;
      return;
    }
    if ('.' in record || 'has' in record) {
      const found = chain(record);
      if (found) {
        const tree = trees[found.variable];
        if (tree !== true) add(tree, found.path);
        return;
      }
    }
    for (const value of Object.values(record)) visit(value);
  };
  visit(conditions);
  return { context: trees.context, principal: trees.principal, resource: trees.resource };
}

/** `value` with only what `tree` reads (records pruned, anything else kept whole). */
export function project<T>(value: T, tree: ReadTree | undefined): T {
  if (tree === undefined || tree === true || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of tree) {
    if (key in (value as object)) out[key] = project((value as Record<string, unknown>)[key], sub);
  }
  return out as T;
}
