export { Invitations, InvitationError, INVITATION_ID, invitationView, type InvitationView, type Invitation, type InvitationStatus, type InvitationRefusal, type LinkState, type InvitationDeps } from './invitations.ts';
export { invitationRoutes, type InvitationRouteDeps } from './routes.ts';
