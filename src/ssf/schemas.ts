/** Stream management requests (SSF 1.0 §8.1), validated at the edge. Transmitter-supplied members sent back are ignored. */
import { z } from 'zod';
import { POLL_METHOD, PUSH_METHOD, subjectSchema } from './events.ts';
import { httpsUrl } from './https-url.ts';

const delivery = z.discriminatedUnion('method', [
  z.object({
    method: z.literal(PUSH_METHOD),
    endpoint_url: httpsUrl('endpoint_url'),
    authorization_header: z.string().min(1).max(4096).regex(/^[\x20-\x7e]+$/, 'authorization_header must be printable ASCII').optional(),
  }),
  // The transmitter supplies the poll endpoint: one sent is ignored.
  z.object({ method: z.literal(POLL_METHOD), endpoint_url: z.unknown().optional() }),
], { error: `delivery.method must be ${PUSH_METHOD} (push) or ${POLL_METHOD} (poll)` });

const streamId = z.string().min(1).max(100);

const eventTypes = z.array(z.string().min(1).max(512)).max(100);

const audienceValue = z.string().min(1).max(2048);
/** The SETs' audience a receiver asks for (SSF 1.0 §8.1.1: a string or an array of strings). */
const audience = z.union([audienceValue, z.array(audienceValue).min(1).max(5)]).transform((a) => [a].flat());

export const createStreamSchema = z.object({
  delivery: delivery.optional(),
  events_requested: eventTypes.optional(),
  description: z.string().max(500).optional(),
  aud: audience.optional(),
});

export const replaceStreamSchema = createStreamSchema.extend({ stream_id: streamId });

export const updateStreamSchema = z.object({
  stream_id: streamId,
  delivery: delivery.optional(),
  events_requested: eventTypes.optional(),
  description: z.string().max(500).optional(),
  aud: audience.optional(),
});

export const statusSchema = z.object({
  stream_id: streamId,
  status: z.enum(['enabled', 'paused', 'disabled']),
  reason: z.string().max(500).optional(),
});

export const subjectRequestSchema = z.object({
  stream_id: streamId,
  subject: subjectSchema,
  verified: z.boolean().optional(),
});

export const verifySchema = z.object({
  stream_id: streamId,
  state: z.string().max(500).optional(),
});

export const streamIdQuery = z.object({ stream_id: streamId.optional() });

// Stream routes read it from here, next to the schemas they check.
export { firstIssue } from '../http/zod-issue.ts';
