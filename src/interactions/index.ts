import Router from '@koa/router';
import { InteractionKit, type InteractionDeps } from './shared.ts';
import { loginRoutes } from './login-routes.ts';
import { factorRoutes } from './factor-routes.ts';
import { forgotRoutes } from './forgot-routes.ts';
import { federationRoutes } from './federation-routes.ts';

export { LoginThrottle, type LoginAttempt, type LoginLimit } from './login-throttle.ts';
export type { InteractionDeps, InteractionFederation, FederatedOrigin } from './shared.ts';

/** The browser side of the provider: password, second factors, passkeys, consent. */
export function interactionRoutes(deps: InteractionDeps): Router {
  const kit = new InteractionKit(deps);
  const router = new Router();
  const federation = deps.federation && federationRoutes(kit, deps.federation);
  if (federation) router.use(federation.router.routes());
  router.use(loginRoutes(kit, federation).routes());
  router.use(factorRoutes(kit).routes());
  router.use(forgotRoutes(kit).routes());
  return router;
}
