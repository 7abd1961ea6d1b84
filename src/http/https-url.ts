/** A URL Vigil calls or has a receiver call: the one rule for every such URL in SSF settings and requests. */
import { z } from 'zod';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An https URL (http only on loopback), without credentials or fragment; the message names it as `name` when given. */
export const httpsUrl = (name?: string) => z.string().max(2048).refine((s) => {
  const url = URL.parse(s);
  return url !== null && !url.hash && !url.username && !url.password
    && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)));
}, `${name === undefined ? '' : `${name} `}must be an https URL (http only on localhost), without credentials or fragment`);
