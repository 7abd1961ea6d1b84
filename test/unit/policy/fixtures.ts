export const SCHEMA = `
entity Group;
entity Person in [Group] { roles: Set<String>, email_verified: Bool };
entity Scope;
entity Document { owner: Person };
action receive_scope appliesTo {
  principal: Person, resource: Scope,
  context: { device_compliant: Bool, risk_level: String, acr?: String },
};
action read appliesTo { principal: Person, resource: Document, context: {} };
`;

export const POLICIES = `// Everyone may receive any scope…
@id("scopes-allowed")
permit (principal, action == Action::"receive_scope", resource);

// …but "admin" only from a compliant device.
@id("admin-needs-compliant-device")
forbid (principal, action == Action::"receive_scope", resource == Scope::"admin")
unless { context.device_compliant };

permit (principal in Group::"editors", action == Action::"read", resource)
when { resource.owner == principal || principal.roles.contains("auditor") };
`;

export const alice = { type: 'Person', id: 'alice', attrs: { roles: ['staff'], email_verified: true } };
export const receive = { type: 'Action', id: 'receive_scope' };
export const scope = (id: string) => ({ type: 'Scope', id });
