import { z } from 'zod';
import { isIP } from 'node:net';
import { accentContrastProblem, HEX_COLOUR } from './colour.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const list = z.union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean));

const cidr = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || !isIP(addr)) return false;
  if (bits === undefined) return true;
  const max = isIP(addr) === 4 ? 32 : 128;
  return /^\d+$/.test(bits) && Number(bits) <= max;
}, 'must be an IP address or CIDR range (e.g. 10.0.0.0/8)');

const hostPort = z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/i, 'must be host or host:port');

/** An address alone (a@b.example) or with a display name (Vigil <a@b.example>). */
const mailbox = z.string().refine((s) => {
  const named = /^([^<>"\r\n]{1,100}|"[^"\r\n]{1,100}") <([^<>\s]+)>$/.exec(s.trim());
  return z.email().safeParse(named ? named[2] : s.trim()).success;
}, 'must be an email address, alone or as Name <address@example.com>');

const url = (protocols: string[]) => z.string().refine((s) => {
  const parsed = URL.parse(s);
  return parsed !== null && protocols.includes(parsed.protocol);
}, `must be a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}`);

/** An accent colour the scheme's text stays readable with (WCAG AA), refused with the contrast it has. */
const accent = (scheme: 'light' | 'dark') => z.string().regex(HEX_COLOUR, 'must be a colour as #rrggbb').superRefine((value, ctx) => {
  const problem = accentContrastProblem(value.toLowerCase(), scheme);
  if (problem) ctx.addIssue({ code: 'custom', message: `unreadable in ${scheme} mode: ${problem}` });
}).transform((s) => s.toLowerCase());

/** A JSON object (the environment's text, or config/vigil.json's object) of group name → roles. */
const groupRoles = z.unknown().transform((value, ctx) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object: {"group name": ["role", …]}' });
    return z.NEVER;
  }
}).pipe(z.record(
  z.string().trim().min(1).max(200),
  z.array(z.string().regex(/^[a-z][a-z0-9_:-]{0,63}$/, 'roles are lower-case words (a-z, 0-9, _ : -)')).max(50),
  'must be a JSON object: {"group name": ["role", …]}',
));

/**
 * Every setting Vigil reads, by its environment variable name. The same names are accepted
 * as keys in config/vigil.json (environment wins). docs/configuration.md mirrors this list.
 */
export const settingsSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  ISSUER: url(['http:', 'https:']).refine((s) => !s.endsWith('/') && !URL.parse(s)?.search && !URL.parse(s)?.hash, 'must not end with "/" nor carry a query or fragment').optional(),
  VIGIL_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  VIGIL_MASTER_KEY: z.string().refine((s) => Buffer.from(s, 'base64').length === 32, 'must be 32 random bytes, base64-encoded (openssl rand -base64 32)').optional(),
  VIGIL_ADMIN_EMAIL: z.email().optional(),
  VIGIL_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').max(256).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The product name on the pages (titles, headings) and in mail. */
  VIGIL_BRAND_NAME: z.string().trim().min(1).max(60).regex(/^[^\p{Cc}<>]+$/u, 'must be plain text on one line, without < or >').default('Vigil'),
  /** The language of pages when Accept-Language names none Vigil has, and of mail sent without a request (invitations); one of locales/. */
  VIGIL_DEFAULT_LANGUAGE: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a language tag such as en or de').default('en'),
  /** A logo shown on the pages: an SVG or PNG file, read at start-up and served as /assets/logo.svg or /assets/logo.png. */
  VIGIL_BRAND_LOGO: z.string().min(1).optional(),
  /** The accent colour (buttons, links) in light mode; in dark mode VIGIL_BRAND_ACCENT_DARK. */
  VIGIL_BRAND_ACCENT: accent('light').optional(),
  VIGIL_BRAND_ACCENT_DARK: accent('dark').optional(),
  TRUST_PROXY: list.pipe(z.array(cidr)).default([]),
  VIGIL_ACCESS_TOKEN_TTL: int(30, 86400).default(300),
  VIGIL_ID_TOKEN_TTL: int(30, 86400).default(300),
  VIGIL_REFRESH_TOKEN_TTL: int(60, 365 * 86400).default(14 * 86400),
  VIGIL_SESSION_TTL: int(60, 30 * 86400).default(86400),
  VIGIL_GRANT_TTL: int(60, 365 * 86400).default(30 * 86400),
  VIGIL_INTERACTION_TTL: int(60, 86400).default(600),
  VIGIL_AUTHORIZATION_CODE_TTL: int(10, 600).default(60),
  VIGIL_CLIENT_CREDENTIALS_TTL: int(30, 86400).default(300),
  VIGIL_KEY_PUBLISH_SECONDS: int(0, 7 * 86400).default(3600),
  VIGIL_KEY_REFRESH_SECONDS: int(1, 3600).default(60),
  VIGIL_ALLOWED_OUTGOING_HOSTS: list.pipe(z.array(hostPort)).default([]),
  VIGIL_METRICS_ALLOW: list.pipe(z.array(cidr)).default(['127.0.0.1/32', '::1/128']),
  VIGIL_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  VIGIL_LOGIN_MAX_FAILURES_PER_ACCOUNT: int(1, 1000).default(5),
  VIGIL_LOGIN_MAX_FAILURES_PER_IP: int(1, 100000).default(50),
  /** Failed sign-ins for one account from every address after which a right password needs the second factor too. */
  VIGIL_LOGIN_ACCOUNT_ATTACK_FAILURES: int(1, 100000).default(20),
  VIGIL_LOGIN_LOCKOUT_SECONDS: int(1, 86400).default(900),
  /** Requests a SCIM provisioning client may make per minute. */
  VIGIL_SCIM_REQUESTS_PER_MINUTE: int(1, 100000).default(600),
  /** The AuthZEN decision point's policies: a directory with a Cedar schema (*.cedarschema) and policies (*.cedar); the PDP is off when unset. Reloaded on SIGHUP. */
  VIGIL_AUTHZEN_POLICY: z.string().min(1).optional(),
  /** The entities the AuthZEN policies see besides Vigil's accounts (Cedar entities JSON: users with roles, resources to search). Reloaded on SIGHUP. */
  VIGIL_AUTHZEN_ENTITIES: z.string().min(1).optional(),
  /** Requests one AuthZEN caller (a resource server's client) may make per minute. */
  VIGIL_AUTHZEN_REQUESTS_PER_MINUTE: int(1, 1000000).default(6000),
  /** The most candidates one resource search evaluates (the entities of the asked type beyond it are not looked at). */
  VIGIL_AUTHZEN_SEARCH_MAX_CANDIDATES: int(1, 100000).default(1000),
  /** SCIM group (displayName) → the roles its members get, e.g. {"Vigil Auditors": ["auditor"]}. */
  VIGIL_SCIM_GROUP_ROLES: groupRoles.default({}),
  VIGIL_MFA_MAX_FAILURES: int(1, 100).default(5),
  VIGIL_MFA_LOCKOUT_SECONDS: int(1, 86400).default(900),
  VIGIL_REAUTH_SECONDS: int(1, 86400).default(300),
  /** How long an emailed password-reset link works. */
  VIGIL_PASSWORD_RESET_TTL_MINUTES: int(5, 24 * 60).default(30),
  /** How long an emailed address-check link (from /account) works. */
  VIGIL_EMAIL_VERIFICATION_TTL_MINUTES: int(5, 7 * 24 * 60).default(24 * 60),
  /** Mails with a link (password reset, address check) one address may be sent within VIGIL_RECOVERY_WINDOW_SECONDS, whether an account has it or not. */
  VIGIL_RECOVERY_MAX_PER_EMAIL: int(1, 100).default(3),
  /** Forgot-password requests one client address may make within VIGIL_RECOVERY_WINDOW_SECONDS. */
  VIGIL_RECOVERY_MAX_PER_IP: int(1, 100000).default(20),
  VIGIL_RECOVERY_WINDOW_SECONDS: int(60, 86400).default(3600),
  /** How long an invitation's emailed link stays usable. */
  VIGIL_INVITATION_TTL_HOURS: int(1, 720).default(72),
  /** An invited person must enrol a second factor (a passkey, or a password with an authenticator app); off: a password alone will do. */
  VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR: bool.default(true),
  VIGIL_DB_POOL_SIZE: int(1, 200).default(10),
  /** auto: Vigil analyzes and vacuums its own tables when the server's autovacuum is off (and on the embedded database). */
  VIGIL_DB_UPKEEP: z.enum(['auto', 'off']).default('auto'),
  VIGIL_DB_UPKEEP_SECONDS: int(1, 3600).default(15),
  /** V8's old-generation growth after a full GC, in percent of the live heap; 0 leaves it to V8's own heuristic. */
  VIGIL_HEAP_GROWTH_PERCENT: int(0, 300).default(100),
  /** The longest a shutdown (SIGTERM, SIGINT) takes: open connections are finished, then the queued writes flushed. */
  VIGIL_SHUTDOWN_TIMEOUT_SECONDS: int(1, 600).default(15),
  /** How long an idle keep-alive connection stays open (told to clients as Keep-Alive: timeout=N); above a load balancer's own idle timeout. */
  VIGIL_HTTP_KEEP_ALIVE_SECONDS: int(1, 600).default(5),
  /** The device posture policy file; the shipped config/posture-policy.json when unset. */
  VIGIL_POSTURE_POLICY: z.string().min(1).optional(),
  /** The risk policy file; the shipped config/risk-policy.json when unset. Reloaded on SIGHUP. */
  VIGIL_RISK_POLICY: z.string().min(1).optional(),
  /** Access policy (Cedar): directories/files of .cedar policies and a schema; empty: the shipped config/policy; `off`: none. Reloaded on SIGHUP. */
  VIGIL_ACCESS_POLICY: list.default([]),
  /** Score every login and refresh. Off only for comparison runs and emergencies (logged loudly at start). */
  VIGIL_RISK_ENGINE: bool.default(true),
  /** Operator CIDR lists as tag=file pairs (e.g. anonymizer=/etc/vigil/vpn.txt,corporate=/etc/vigil/corp.txt). */
  VIGIL_NETWORK_LISTS: list.pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}=.+$/, 'each entry must be tag=path, the tag in lower-case letters, digits, _ and -'))).default([]),
  /** Days audit entries are kept (0: for good); older ones are removed behind a MACed checkpoint. */
  VIGIL_AUDIT_RETENTION_DAYS: int(0, 36500).default(400),
  /** Days stored risk assessments are kept. */
  VIGIL_RISK_RETENTION_DAYS: int(1, 3650).default(90),
  /** How long an instance keeps client metadata, grants and accounts it read on the token path (0: not at all); dropped at once through the revocation bus. */
  VIGIL_METADATA_CACHE_SECONDS: int(0, 60).default(5),
  VIGIL_BACKCHANNEL_RETRY_SECONDS: int(1, 3600).default(2),
  VIGIL_BACKCHANNEL_MAX_ATTEMPTS: int(1, 50).default(8),
  /** Shared Signals push delivery: the first retry's delay (doubling, at most an hour) and the attempts before a SET is marked failed. */
  VIGIL_SSF_RETRY_SECONDS: int(1, 3600).default(2),
  VIGIL_SSF_MAX_ATTEMPTS: int(1, 50).default(12),
  /** How long an RFC 8936 long poll is held when nothing is pending. */
  VIGIL_SSF_POLL_WAIT_SECONDS: int(1, 300).default(20),
  /** The trusted transmitters Vigil accepts SETs from (a JSON file; none when unset). Reloaded on SIGHUP. */
  VIGIL_SSF_TRANSMITTERS: z.string().min(1).optional(),
  VIGIL_FEDERATION_FILE: z.string().min(1).optional(),
  VIGIL_FEDERATION_TIMEOUT_SECONDS: int(1, 60).default(10),
  /** Just-in-time elevation: elevatable roles (longest duration, approval, min_acr) and break-glass accounts (a JSON file; nothing elevatable when unset). Reloaded on SIGHUP. */
  VIGIL_ELEVATION_FILE: z.string().min(1).optional(),
  /** How often each instance looks for elevations that ended (it also wakes at the next known end); the token path compares the end time itself. */
  VIGIL_ELEVATION_SWEEP_SECONDS: int(1, 300).default(30),
  /** How old a received SET's `iat` may be (a transmitter may override it for itself in the file). */
  VIGIL_SSF_RECEIVE_MAX_AGE_SECONDS: int(10, 7 * 86400).default(300),
  /** Where mail goes: smtp://[user:pass@]host[:port] (STARTTLS required, port 587) or smtps:// (TLS from the start, port 465). Unset: the outbox in VIGIL_DATA_DIR. */
  VIGIL_SMTP_URL: url(['smtp:', 'smtps:']).refine((s) => {
    const parsed = URL.parse(s)!;
    return parsed.hostname !== '' && (parsed.pathname === '' || parsed.pathname === '/') && !parsed.search && !parsed.hash;
  }, 'must name a host, with no path, query or fragment (smtp://user:pass@host:587)').optional(),
  /** The From of Vigil's mail; required with VIGIL_SMTP_URL. */
  VIGIL_MAIL_FROM: mailbox.optional(),
  /** Plain smtp:// to a host that is not this machine, without STARTTLS. Only for a relay on a network you trust. */
  VIGIL_SMTP_ALLOW_PLAIN: bool.default(false),
  /** Days a message stays in the outbox (VIGIL_DATA_DIR/outbox) before the server deletes it. */
  VIGIL_MAIL_OUTBOX_DAYS: int(1, 3650).default(7),
});

export type Settings = z.infer<typeof settingsSchema>;
