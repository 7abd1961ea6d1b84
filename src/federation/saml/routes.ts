import Router from '@koa/router';
import type { SamlProviderConfig } from './config.ts';
import { spMetadata } from './sp-metadata.ts';

/** The paths of one SAML provider under Vigil's issuer. */
export function samlUrls(issuer: string, id: string): { issuer: string; acsUrl: string; metadataUrl: string } {
  return { issuer, acsUrl: `${issuer}/federation/${id}/acs`, metadataUrl: `${issuer}/federation/${id}/metadata` };
}

/** `GET /federation/:provider/metadata`: the SP metadata an IdP administrator imports. */
export function samlMetadataRoutes(providerOf: (id: string) => SamlProviderConfig | { kind: string } | undefined, issuer: string): Router {
  const router = new Router();
  router.get('/federation/:provider/metadata', async (ctx) => {
    const provider = providerOf(ctx.params.provider!);
    if (provider?.kind !== 'saml') {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'No SAML provider of that name.';
      return;
    }
    ctx.type = 'application/samlmetadata+xml';
    ctx.set('cache-control', 'public, max-age=3600');
    ctx.body = await spMetadata(provider as SamlProviderConfig, samlUrls(issuer, (provider as SamlProviderConfig).id));
  });
  return router;
}
