/**
 * Access policy as code: Cedar policies validated against a schema, evaluated in-process. Pure like `risk/`:
 * texts in, a pre-parsed set out; entities and context in, a decision and its determining policies out. No I/O —
 * callers read the files (see `verification/`) and log, audit and count the decisions.
 */
export { cedar } from './engine.ts';
export { PolicyError, formatProblem, type PolicyProblem } from './errors.ts';
export { loadPolicySet, type PolicyInfo, type PolicySet, type PolicySetInput } from './load.ts';
export { decide, type DecideOptions, type DecisionRequest, type EntityRef, type PolicyDecision, type RequestEntity } from './decide.ts';
export type { AttributeValue } from './values.ts';
export type { SourceText } from './source.ts';
export {
  RECEIVE_ROLE, RECEIVE_SCOPE, checkTokenSchema, tokenRequestParts, tokenVerdict, type TokenFacts, type TokenVerdict, type Withheld,
} from './token.ts';
export { collectReads, project, type Reads, type ReadTree } from './reads.ts';
