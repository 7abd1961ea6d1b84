export { Invitations, InvitationError, INVITATION_ID, type Invitation, type InvitationStatus, type InvitationRefusal, type LinkState, type InvitationDeps } from './invitations.ts';
export { invitationRoutes, type InvitationRouteDeps } from './routes.ts';
