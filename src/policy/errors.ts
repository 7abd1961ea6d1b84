/** Where in which file a policy or schema problem is. */
export interface PolicyProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** A schema or policy set that cannot be used; `message` names every problem with file:line:column. */
export class PolicyError extends Error {
  override name = 'PolicyError';
  readonly problems: readonly PolicyProblem[];

  constructor(problems: readonly PolicyProblem[], summary = 'invalid access policy') {
    super(`${summary}: ${problems.map(formatProblem).join('; ')}`);
    this.problems = problems;
  }
}

export function formatProblem(p: PolicyProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.message}`;
}
