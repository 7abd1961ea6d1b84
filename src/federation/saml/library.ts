/**
 * node-saml (and the XML signature stack under it) loads on first use: a Vigil without a SAML
 * provider, and every CLI command, starts without it (about 70 ms of each process's start).
 */
type NodeSaml = typeof import('@node-saml/node-saml');

let loaded: NodeSaml | undefined;
let loading: Promise<NodeSaml> | undefined;

export function nodeSaml(): Promise<NodeSaml> {
  loading ??= import('@node-saml/node-saml').then((library) => (loaded = library));
  return loading;
}

/** The library when something already loaded it (an error it threw can only come from it). */
export function nodeSamlIfLoaded(): NodeSaml | undefined {
  return loaded;
}
