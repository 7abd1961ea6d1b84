// oidc-provider's introspection action: the middleware list its route runs. Not typed upstream.
declare module 'oidc-provider/lib/actions/introspection.js' {
  const steps: unknown[];
  export default steps;
}
