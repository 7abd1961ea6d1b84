export { interactionRoutes, type InteractionDeps } from './routes.ts';
export { LoginThrottle, type ThrottleState } from './login-throttle.ts';
