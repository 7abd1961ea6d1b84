export { AttemptLimiter, type Reservation, type ThrottleState } from './attempt-limiter.ts';
