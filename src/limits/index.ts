export { AttemptLimiter, type Reservation, type ThrottleState } from './attempt-limiter.ts';
export { reserveAll, type NamedLimit } from './reserve-all.ts';
