import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
const r = cedar.schemaToJsonWithResolvedTypes(`namespace X { entity U; } entity user { email?: String, roles?: Set<String>, info: { a: Long } }; entity todo { ownerID?: String };
type Ctx = { vigil?: { risk_level: String } };
action can_update_todo appliesTo { principal: user, resource: todo, context: Ctx };
action b appliesTo { principal: user, resource: todo, context: { x: Long } };`);
console.log(JSON.stringify(r, null, 1).slice(0, 3000));
