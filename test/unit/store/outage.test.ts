/**
 * A store that cannot be reached is told apart from every other failure: pg's and ioredis's
 * connection errors become a StoreOutageError (503 temporarily_unavailable, shaped as
 * oidc-provider's errors are); anything else is left as it was.
 */
import { asStoreOutage, storeOutage, StoreOutageError } from '../../../src/store/index.ts';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

test.each([
  ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
  ['a reset connection', withCode('read ECONNRESET', 'ECONNRESET')],
  ['pg: the connection dropped', new Error('Connection terminated unexpectedly')],
  ['pg: no connection in time', new Error('timeout exceeded when trying to connect')],
  ['Postgres shutting down', withCode('terminating connection due to administrator command', '57P01')],
  ['Postgres starting up', withCode('the database system is starting up', '57P03')],
  ['Postgres: connection exception class', withCode('connection failure', '08006')],
  ['Redis: no connection, no offline queue', new Error('Stream isn\'t writeable and enableOfflineQueue options is false')],
  ['Redis: closed', new Error('Connection is closed.')],
  ['Redis: no answer in time', new Error('Command timed out')],
  ['Redis: loading its data', new Error('LOADING Redis is loading the dataset in memory')],
])('%s is an outage', (_, err) => {
  const outage = asStoreOutage(err, 'postgres');
  expect(outage).toBeInstanceOf(StoreOutageError);
  expect(outage).toMatchObject({ status: 503, statusCode: 503, expose: true, message: 'temporarily_unavailable', error: 'temporarily_unavailable', store: 'postgres', cause: err });
  expect(storeOutage(err)).toMatchObject({ store: undefined, cause: err });
});

test.each([
  ['a constraint violation', withCode('duplicate key value violates unique constraint', '23505')],
  ['a syntax error', withCode('syntax error at or near', '42601')],
  ['a Redis script error', new Error('ERR Error running script')],
  ['an OAuth error', Object.assign(new Error('invalid_grant'), { status: 400, expose: true })],
  ['not an error', 'down'],
])('%s is not', (_, err) => {
  expect(asStoreOutage(err, 'redis')).toBe(err);
  expect(storeOutage(err)).toBeUndefined();
});

test('an outage already named keeps its store', () => {
  const outage = new StoreOutageError('redis', new Error('Connection is closed.'));
  expect(asStoreOutage(outage, 'postgres')).toBe(outage);
  expect(storeOutage(outage)).toBe(outage);
});
