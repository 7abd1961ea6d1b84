/**
 * The decision point: AuthZEN evaluations, batches and resource searches answered from the
 * configured Cedar policies, with Vigil's live context for subjects that are its accounts.
 */
import type { Decider, PolicyAnswer } from './decider.ts';
import type { EntityStore } from './entities.ts';
import type { LiveContext } from './live-context.ts';
import { policyQuery, unmappable, type SubjectFacts } from './mapping.ts';
import { AuthzenRequestError, MAX_PAGE_LIMIT, type EvaluationRequest, type EvaluationsSemantic, type ResourceSearchRequest } from './schemas.ts';

/** The policies and entities in force (replaced as a whole on reload). */
export interface AuthzenPolicy {
  decide: Decider;
  entities: EntityStore;
}

export interface Decision {
  decision: boolean;
  context?: { reason_admin: { en: string } };
}

export interface SearchAnswer {
  results: { type: string; id: string }[];
  page?: { next_token: string };
}

export interface DecisionPointDeps {
  policy: () => AuthzenPolicy;
  live: Pick<LiveContext, 'of'>;
  /** The most candidates a search evaluates. */
  maxCandidates: number;
}

function reason(answer: PolicyAnswer): Decision['context'] {
  const by = answer.determining.length ? answer.determining.join(', ') : undefined;
  const text = answer.allowed ? `permitted by ${by}` : by ? `forbidden by ${by}` : 'no policy permits this request';
  return { reason_admin: { en: answer.errors.length ? `${text}; policy errors: ${answer.errors.join('; ').slice(0, 500)}` : text } };
}

const pageToken = (offset: number) => Buffer.from(`o:${offset}`).toString('base64url');

function pageOffset(token: string | undefined, candidates: number): number {
  if (token === undefined || token === '') return 0;
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString());
  if (!match || Number(match[1]) > candidates) throw new AuthzenRequestError('page.token: is not a token this decision point gave');
  return Number(match[1]);
}

export class DecisionPoint {
  readonly #deps: DecisionPointDeps;

  constructor(deps: DecisionPointDeps) {
    this.#deps = deps;
  }

  /** One evaluation; `facts` caches the subjects' live context within one request. */
  async evaluate(request: EvaluationRequest, facts = new Map<string, Promise<SubjectFacts | undefined>>()): Promise<Decision> {
    const problem = unmappable(request);
    if (problem) throw new AuthzenRequestError(problem);
    const policy = this.#deps.policy();
    const answer = policy.decide(policyQuery(request, policy.entities, await this.#facts(request.subject, facts)));
    return { decision: answer.allowed, context: reason(answer) };
  }

  /**
   * A batch in order; `deny_on_first_deny` / `permit_on_first_permit` stop after the first deny /
   * permit (the answer then has fewer entries). Every entry is checked before any is evaluated.
   */
  async evaluateAll(requests: EvaluationRequest[], semantic: EvaluationsSemantic = 'execute_all'): Promise<Decision[]> {
    requests.forEach((request, i) => {
      const problem = unmappable(request);
      if (problem) throw new AuthzenRequestError(requests.length > 1 ? `evaluations.${i}.${problem}` : problem);
    });
    const facts = new Map<string, Promise<SubjectFacts | undefined>>();
    const decisions: Decision[] = [];
    for (const request of requests) {
      const decision = await this.evaluate(request, facts);
      decisions.push(decision);
      if (semantic === 'deny_on_first_deny' && !decision.decision) break;
      if (semantic === 'permit_on_first_permit' && decision.decision) break;
    }
    return decisions;
  }

  /**
   * The resources of the asked type the subject may act on: each configured candidate (at most
   * `maxCandidates`, in the entities file's order) evaluated in turn, a page at a time.
   */
  async searchResources(request: ResourceSearchRequest): Promise<SearchAnswer> {
    const policy = this.#deps.policy();
    const candidates = policy.entities.ofType(request.resource.type).slice(0, this.#deps.maxCandidates);
    const limit = request.page?.limit ?? MAX_PAGE_LIMIT;
    let offset = pageOffset(request.page?.token, candidates.length);
    const facts = new Map<string, Promise<SubjectFacts | undefined>>();
    const results: SearchAnswer['results'] = [];
    for (; offset < candidates.length && results.length < limit; offset++) {
      const uid = candidates[offset].uid;
      const decision = await this.evaluate({
        subject: request.subject, action: request.action, context: request.context,
        resource: { ...uid, ...(request.resource.properties ? { properties: request.resource.properties } : {}) },
      }, facts);
      if (decision.decision) results.push({ type: uid.type, id: uid.id });
    }
    return { results, ...(offset < candidates.length ? { page: { next_token: pageToken(offset) } } : {}) };
  }

  #facts(subject: { type: string; id: string }, cache: Map<string, Promise<SubjectFacts | undefined>>): Promise<SubjectFacts | undefined> {
    const key = `${subject.type}\n${subject.id}`;
    let facts = cache.get(key);
    if (!facts) cache.set(key, facts = this.#deps.live.of(subject));
    return facts;
  }
}
