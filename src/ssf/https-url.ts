/** An SSF URL follows the one rule for URLs Vigil calls (kept in http/ for every layer). */
export { httpsUrl } from '../http/https-url.ts';
