import { isLoopbackHost, smtpTransportOptions } from '../../../src/mail/index.ts';

const options = (url: string, allowPlain = false) => smtpTransportOptions({ VIGIL_SMTP_URL: url, VIGIL_SMTP_ALLOW_PLAIN: allowPlain });

test('smtp:// to another host must upgrade with STARTTLS, certificate verified', () => {
  expect(options('smtp://mailer:p%40ss%3Aword@smtp.example.com')).toMatchObject({
    host: 'smtp.example.com', port: 587, secure: false, requireTLS: true, ignoreTLS: false,
    auth: { user: 'mailer', pass: 'p@ss:word' },
    tls: { rejectUnauthorized: true, servername: 'smtp.example.com' },
    disableFileAccess: true, disableUrlAccess: true,
  });
});

test('smtps:// is TLS from the start, on 465 unless a port is given', () => {
  expect(options('smtps://smtp.example.com')).toMatchObject({ port: 465, secure: true, requireTLS: false, ignoreTLS: false, tls: { rejectUnauthorized: true } });
  expect(options('smtps://smtp.example.com:2465').port).toBe(2465);
  expect(options('smtps://smtp.example.com').auth).toBeUndefined();
});

test('plain only to this machine, or when VIGIL_SMTP_ALLOW_PLAIN says so', () => {
  expect(options('smtp://127.0.0.1:2525')).toMatchObject({ host: '127.0.0.1', port: 2525, requireTLS: false, ignoreTLS: true });
  expect(options('smtp://[::1]:25')).toMatchObject({ host: '::1', requireTLS: false, ignoreTLS: true });
  expect(options('smtp://localhost')).toMatchObject({ requireTLS: false, ignoreTLS: true });
  expect(options('smtp://relay.internal', true)).toMatchObject({ requireTLS: false, ignoreTLS: true });
  expect(options('smtps://relay.internal', true)).toMatchObject({ secure: true, ignoreTLS: false });
});

test.each([
  ['localhost', true], ['127.0.0.1', true], ['127.10.0.1', true], ['[::1]', true], ['mail.localhost', true],
  ['10.0.0.1', false], ['localhost.example.com', false], ['128.0.0.1', false], ['[::2]', false], ['smtp.example.com', false],
])('isLoopbackHost(%s) is %s', (host, loopback) => {
  expect(isLoopbackHost(host)).toBe(loopback);
});
