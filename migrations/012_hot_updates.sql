-- Rows the token path updates in place keep room on their page, so the update stays on the page
-- ("HOT": no new index entries). A refresh token is consumed a moment after it is written, a
-- grant binding's last-refresh time moves at every refresh, a risk profile grows with sign-ins;
-- none of these columns is indexed. Applies to pages written from now on.
ALTER TABLE oidc_payloads SET (fillfactor = 70);
ALTER TABLE risk_grant_bindings SET (fillfactor = 70);
ALTER TABLE risk_profiles SET (fillfactor = 80);
