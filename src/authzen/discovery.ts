/** The PDP metadata (AuthZEN 1.0 §"Policy Decision Point Metadata"): only the endpoints Vigil serves. */
export const authzenPaths = {
  configuration: '/.well-known/authzen-configuration',
  evaluation: '/access/v1/evaluation',
  evaluations: '/access/v1/evaluations',
  searchResource: '/access/v1/search/resource',
} as const;

export function pdpMetadata(issuer: string) {
  return {
    policy_decision_point: issuer,
    access_evaluation_endpoint: `${issuer}${authzenPaths.evaluation}`,
    access_evaluations_endpoint: `${issuer}${authzenPaths.evaluations}`,
    search_resource_endpoint: `${issuer}${authzenPaths.searchResource}`,
  };
}
