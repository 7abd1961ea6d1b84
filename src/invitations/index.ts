export { Invitations, InvitationError, INVITATION_ID, invitationView, type InvitationView, type Invitation, type InvitationStatus, type InvitationRefusal, type LinkState, type InvitationDeps, type Enrolment, type EnrolmentState, invitationEnrolment } from './invitations.ts';
export { invitationRoutes, type InvitationRouteDeps } from './routes.ts';
export { AccountEnrolments, type AccountEnrolmentDeps } from './account-enrolments.ts';
