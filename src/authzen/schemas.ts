/**
 * The request bodies of the AuthZEN Authorization API 1.0 (subject, action, resource, context;
 * batches of evaluations; resource search), checked at the edge: a missing or wrongly typed member
 * is a 400 naming it.
 */
import { z } from 'zod';
import { firstIssue } from '../http/index.ts';

/** The most evaluations one batch request may carry. */
export const MAX_EVALUATIONS = 500;
/** The most results one search page carries. */
export const MAX_PAGE_LIMIT = 1000;

const text = z.string().min(1, 'must be a non-empty string').max(1024);
const properties = z.record(z.string(), z.unknown());

export const subjectSchema = z.object({ type: text, id: text, properties: properties.optional() });
export const actionSchema = z.object({ name: text, properties: properties.optional() });
export const resourceSchema = z.object({ type: text, id: text, properties: properties.optional() });
export const contextSchema = z.record(z.string(), z.unknown());

export const evaluationSchema = z.object({
  subject: subjectSchema,
  action: actionSchema,
  resource: resourceSchema,
  context: contextSchema.optional(),
});
export type EvaluationRequest = z.infer<typeof evaluationSchema>;

const partialEvaluation = z.object({
  subject: subjectSchema.optional(),
  action: actionSchema.optional(),
  resource: resourceSchema.optional(),
  context: contextSchema.optional(),
});

export const EVALUATIONS_SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const;
export type EvaluationsSemantic = typeof EVALUATIONS_SEMANTICS[number];

export const evaluationsSchema = partialEvaluation.extend({
  evaluations: z.array(partialEvaluation).max(MAX_EVALUATIONS, `at most ${MAX_EVALUATIONS} evaluations per request`).optional(),
  options: z.object({
    evaluations_semantic: z.enum(EVALUATIONS_SEMANTICS, { message: `must be one of ${EVALUATIONS_SEMANTICS.join(', ')}` }).optional(),
  }).loose().optional(),
});
export type EvaluationsRequest = z.infer<typeof evaluationsSchema>;

export const pageSchema = z.object({
  token: z.string().max(512).optional(),
  limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).optional(),
});

export const resourceSearchSchema = z.object({
  subject: subjectSchema,
  action: actionSchema,
  resource: z.object({ type: text, id: z.undefined({ message: 'must be absent in a search' }).optional(), properties: properties.optional() }),
  context: contextSchema.optional(),
  page: pageSchema.optional(),
});
export type ResourceSearchRequest = z.infer<typeof resourceSearchSchema>;

/** A request body that breaks its schema: the first problem, naming the member (`subject.id: …`). */
export class AuthzenRequestError extends Error {
  override name = 'AuthzenRequestError';
}

export function parseRequest<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) throw new AuthzenRequestError(firstIssue(result.error, { root: 'body', maxLength: 300 }));
  return result.data;
}

/**
 * The evaluations a batch stands for: each entry over the top-level defaults (a missing member
 * taken from them); no `evaluations` is one evaluation of the top-level members.
 */
export function expandEvaluations(body: EvaluationsRequest): EvaluationRequest[] {
  const defaults = { subject: body.subject, action: body.action, resource: body.resource, context: body.context };
  const entries = body.evaluations?.length ? body.evaluations : [{}];
  return entries.map((entry, i) => {
    const merged = {
      subject: entry.subject ?? defaults.subject,
      action: entry.action ?? defaults.action,
      resource: entry.resource ?? defaults.resource,
      context: entry.context ?? defaults.context,
    };
    for (const member of ['subject', 'action', 'resource'] as const) {
      if (!merged[member]) {
        throw new AuthzenRequestError(body.evaluations?.length
          ? `evaluations.${i}.${member}: is required (in the evaluation or as a top-level default)`
          : `${member}: is required`);
      }
    }
    return merged as EvaluationRequest;
  });
}
